"""Registry credentials for the debug image, from Kubernetes pull secrets."""

import base64
import json
import logging
from collections.abc import Iterable
from typing import Any

from kubernetes.client.exceptions import ApiException

from kdebug_agent.protocol import RegistryAuth
from kdebug_tui.backend.errors import ConfigError
from kdebug_tui.backend.kube import Kube, api_error
from kdebug_tui.backend.resources import JSON

logger = logging.getLogger(__name__)

DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def registry_host(image: str) -> str:
    """Return the registry host of an image reference (`docker.io` if none)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def find_registry_auth(
    kube: Kube,
    *,
    namespace: str,
    secrets: Iterable[str],
    image: str,
    required: str = "",
) -> RegistryAuth | None:
    """Return credentials for `image` from the first secret that has them.

    Args:
        secrets: pull secret names to look in (the target pod's).
        required: a secret the user named explicitly; it must exist.

    Raises:
        ConfigError: the explicitly named secret is missing or holds nothing
            for the image's registry.
    """
    host = registry_host(image)
    names = [required] if required else list(secrets)
    for name in names:
        try:
            secret = kube.request(
                "GET", f"/api/v1/namespaces/{namespace}/secrets/{name}"
            )
        except ApiException as error:
            if required:
                raise api_error(
                    error, doing=f"reading secret {namespace}/{name}"
                ) from error
            logger.info(
                "Pull secret %s/%s is not readable; it is skipped.", namespace, name
            )
            continue
        auth = _auth_from_secret(secret, host)
        if auth is not None:
            return auth
    if required:
        raise ConfigError(
            f"Secret {namespace}/{required} has no credentials for {host}.",
            hint="Name a kubernetes.io/dockerconfigjson secret with an entry for "
            f"{host}, or leave --registry-secret out for a public image.",
        )
    return None


def _auth_from_secret(secret: JSON, host: str) -> RegistryAuth | None:
    data = secret.get("data") or {}
    raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
    if not raw:
        return None
    try:
        config = json.loads(base64.b64decode(raw))
    except ValueError:
        return None
    auths = config.get("auths", config) if isinstance(config, dict) else {}
    hosts = DOCKER_HUB_HOSTS if host == "docker.io" else (host,)
    for server, entry in auths.items():
        bare = server.removeprefix("https://").removeprefix("http://").split("/")[0]
        if bare in hosts and isinstance(entry, dict):
            return _entry_auth(entry, server)
    return None


def _entry_auth(entry: dict[str, Any], server: str) -> RegistryAuth:
    username, password = entry.get("username", ""), entry.get("password", "")
    if not username and entry.get("auth"):
        decoded = base64.b64decode(entry["auth"]).decode(errors="replace")
        username, _, password = decoded.partition(":")
    return RegistryAuth(
        username=str(username),
        password=str(password),
        server=server,
        identity_token=str(entry.get("identitytoken", "")),
    )
