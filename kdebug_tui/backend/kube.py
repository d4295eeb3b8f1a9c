"""Kubeconfig, contexts and the API clients of one context.

The kubeconfig is found the way kubectl finds it: an explicit path, then
`$KUBECONFIG` (several files merged), then `~/.kube/config`, then the pod's
in-cluster service account. The official client is synchronous; callers on an
event loop run these calls with `asyncio.to_thread`.

A debug session reads and writes plain JSON (`request`, `open_port_forward`)
rather than the client's generated API classes and models: making `CoreV1Api`
imports some 250 pydantic models, which cost the command line half a second
before its first request. The browser, which stays running, uses `core`.
"""

import concurrent.futures
import dataclasses
import functools
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from kdebug_tui.backend.errors import (
    ClusterError,
    ConfigError,
    PermissionDenied,
    missing_agent_namespace,
)
from kdebug_tui.backend.unreachable import connection_cause, guard

logger = logging.getLogger(__name__)

DEFAULT_KUBECONFIG = "~/.kube/config"
REQUEST_TIMEOUT = (10.0, 30.0)
"""Seconds to connect to the API server and to wait for its answer, unless a
call says otherwise: without a bound, an API server that stops answering would
hold a session's start or its cleanup for as long as TCP keeps trying."""


@dataclasses.dataclass(frozen=True, slots=True)
class ContextInfo:
    """A kubeconfig context as the browser lists it."""

    name: str
    cluster: str
    user: str
    namespace: str
    current: bool


MALFORMED = (yaml.YAMLError, TypeError, KeyError, AttributeError, ValueError)
"""What the Kubernetes client raises for a file that is not YAML, or YAML that
is not shaped as a kubeconfig: it reads the file without checking its shape."""


def _unreadable(path: str, error: BaseException) -> ConfigError:
    if isinstance(error, (ConfigException, OSError)):
        cause = str(error).rstrip(".")
    elif isinstance(error, yaml.YAMLError):
        cause = f"it is not YAML ({' '.join(str(error).split())})"
    else:
        cause = "its YAML is not shaped as a kubeconfig"
    return ConfigError(
        f"Cannot read the kubeconfig {path}: {cause}.",
        hint="Point --kubeconfig or KUBECONFIG at a valid kubeconfig file; "
        "`kubectl config view` shows what a valid one holds.",
    )


def kubeconfig_paths(explicit: str = "") -> str:
    """Return the kubeconfig path (or `:`-joined paths) kubectl would use."""
    return explicit or os.environ.get("KUBECONFIG", "") or DEFAULT_KUBECONFIG


def list_contexts(kubeconfig: str = "") -> list[ContextInfo]:
    """List the contexts of the kubeconfig.

    Raises:
        ConfigError: the kubeconfig is missing or malformed.
    """
    path = kubeconfig_paths(kubeconfig)
    try:
        contexts, active = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError, *MALFORMED) as error:
        raise _unreadable(path, error) from error
    current = active["name"] if active else ""
    return [
        ContextInfo(
            name=c["name"],
            cluster=c["context"].get("cluster", ""),
            user=c["context"].get("user", ""),
            namespace=c["context"].get("namespace", "") or "default",
            current=c["name"] == current,
        )
        for c in contexts
    ]


class Kube:
    """The API clients of one context, plus the facts the session needs."""

    def __init__(
        self, api_client: client.ApiClient, *, context: str, namespace: str
    ) -> None:
        self.api_client = guard(api_client, context=context)
        self.context = context
        self.namespace = namespace
        self._username: str | None = None

    @classmethod
    def connect(cls, *, kubeconfig: str = "", context: str = "") -> "Kube":
        """Load a context's credentials (or the in-cluster ones).

        Raises:
            ConfigError: there is no usable kubeconfig or no such context.
        """
        path = kubeconfig_paths(kubeconfig)
        expanded = [Path(p).expanduser() for p in path.split(os.pathsep)]
        if not any(p.exists() for p in expanded):
            if not kubeconfig and not context:
                return cls._in_cluster(path)
            raise ConfigError(
                f"The kubeconfig file {path} does not exist.",
                hint="Pass --kubeconfig with an existing file, or correct the "
                "kubeconfig setting or KUBECONFIG that names this one.",
            )
        try:
            api_client = config.new_client_from_config(
                config_file=path, context=context or None, persist_config=False
            )
        except MALFORMED as error:
            raise _unreadable(path, error) from error
        except (ConfigException, OSError) as error:
            if "context" not in str(error):
                raise _unreadable(path, error) from error
            raise ConfigError(
                f"Cannot load context {context or '(current)'} from {path}: "
                f"{str(error).rstrip('.')}.",
                hint="Pass --context with one of the contexts that "
                "`kubectl config get-contexts` lists.",
            ) from error
        contexts = {c.name: c for c in list_contexts(kubeconfig)}
        name = context or next((c.name for c in contexts.values() if c.current), "")
        namespace = contexts[name].namespace if name in contexts else "default"
        return cls(api_client, context=name, namespace=namespace)

    @classmethod
    def _in_cluster(cls, path: str) -> "Kube":
        try:
            config.load_incluster_config()
        except ConfigException as error:
            raise ConfigError(
                f"No kubeconfig at {path} and not running inside a cluster.",
                hint="Set KUBECONFIG or pass --kubeconfig.",
            ) from error
        namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        namespace = (
            namespace_file.read_text().strip() if namespace_file.exists() else ""
        )
        return cls(
            client.ApiClient(), context="in-cluster", namespace=namespace or "default"
        )

    @functools.cached_property
    def core(self) -> "client.CoreV1Api":
        """The client's core/v1 API, made when first used (see the module)."""
        return client.CoreV1Api(self.api_client)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        """Send a request to the API server and return its JSON answer.

        Args:
            path: e.g. `/api/v1/namespaces/shop/pods/web`.
            query: query parameters; `None` values are left out.

        Raises:
            ApiException: the API server answered with an error status.
            ClusterUnreachable: no answer came.
        """
        return json.loads(
            self.request_bytes(method, path, query=query, body=body, timeout=timeout)
        )

    def request_bytes(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> bytes:
        """Send a request as `request` does and return the answer's body as is."""
        response = self._send(method, path, query=query, body=body, timeout=timeout)
        response.read()
        data = bytes(response.data or b"")
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(
                http_resp=response, body=data.decode(errors="replace"), data=None
            )
        return data

    def open_port_forward(self, namespace: str, pod: str, port: int) -> Any:
        """Open a port-forward stream to a pod's port; return the client's object.

        Raises:
            ApiException: the API server or the kubelet refused it (status 0
                for a refused WebSocket handshake, with the reason).
        """
        from kubernetes.stream import ws_client

        method, url, headers, _, _ = self.api_client.param_serialize(
            method="GET",
            resource_path=f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward",
            query_params=[("ports", str(port))],
            header_params={},
            auth_settings=["BearerToken"],
        )
        return ws_client.portforward_call(
            self.api_client.configuration, method, url, headers=headers
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        method, url, headers, serialized, _ = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api_client.call_api(
            method,
            url,
            header_params=headers,
            body=serialized,
            _request_timeout=REQUEST_TIMEOUT if timeout is None else timeout,
        )

    @property
    def server(self) -> str:
        """The API server's address, e.g. `https://10.0.0.1:6443`."""
        return str(self.api_client.configuration.host)

    def username(self) -> str:
        """Return who the API server thinks the user is, for the audit log."""
        if self._username is None:
            review = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "SelfSubjectReview",
            }
            try:
                answer = self.request(
                    "POST",
                    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                    body=review,
                )
                user = (answer.get("status") or {}).get("userInfo") or {}
                self._username = str(user.get("username") or "unknown")
            except ApiException as error:
                logger.info(
                    "The API server did not say who the user is: %s", error.reason
                )
                self._username = "unknown"
        return self._username

    def can_i(
        self, verb: str, resource: str, *, namespace: str, subresource: str = ""
    ) -> bool:
        """Ask the API server whether the user may do something (an access review)."""
        attributes = {"verb": verb, "resource": resource, "namespace": namespace}
        if subresource:
            attributes["subresource"] = subresource
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }
        try:
            answer = self.request(
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                body=review,
            )
        except ApiException as error:
            raise api_error(error, doing="checking permissions") from error
        return bool((answer.get("status") or {}).get("allowed"))

    def require_permissions(self, namespace: str) -> None:
        """Check up front that the user may run agent pods in `namespace`.

        Raises:
            PermissionDenied: naming every missing permission.
        """
        needed = [
            ("create", "pods", ""),
            ("get", "pods", ""),
            ("delete", "pods", ""),
            ("create", "pods", "portforward"),
        ]
        # The reviews are independent: asked together, they cost one round
        # trip to the API server instead of four on the way to a new agent.
        with concurrent.futures.ThreadPoolExecutor(len(needed)) as pool:
            allowed = list(
                pool.map(
                    lambda need: self.can_i(
                        need[0], need[1], namespace=namespace, subresource=need[2]
                    ),
                    needed,
                )
            )
        missing = [
            f"{verb} {resource}{'/' + sub if sub else ''}"
            for (verb, resource, sub), ok in zip(needed, allowed, strict=True)
            if not ok
        ]
        if missing:
            if self._namespace_is_missing(namespace):
                raise missing_agent_namespace(namespace)
            raise PermissionDenied(
                f"You may not {', '.join(missing)} in namespace {namespace}, "
                "which a debug session needs for its agent pod.",
                hint=(
                    "Ask an administrator to bind the kdebug-tui role from "
                    "deploy/rbac.yaml in that namespace, or pick another agent "
                    "namespace with --agent-namespace."
                ),
            )

    def _namespace_is_missing(self, namespace: str) -> bool:
        """Tell whether the API server says `namespace` does not exist.

        Access reviews answer "not allowed" for a namespace that does not
        exist, which would send the user to an administrator for nothing.
        """
        try:
            self.request("GET", f"/api/v1/namespaces/{namespace}")
        except ApiException as error:
            return bool(error.status == 404)
        return False


def api_error(error: ApiException, *, doing: str) -> ClusterError:
    """Turn an API exception into a sentence, keeping large bodies out."""
    status = getattr(error, "status", 0) or 0
    message = _status_message(error) or (error.reason or "no answer")
    if status == 403:
        return PermissionDenied(
            f"The API server refused {doing}: {message}",
            hint="Ask an administrator for the permissions in deploy/rbac.yaml.",
        )
    if status == 0:
        return ClusterError(
            f"The API server could not be reached while {doing}: "
            f"{(connection_cause(error) or message).rstrip('.')}.",
            hint="Check that the cluster is running and that your kubeconfig "
            "points at it; `kubectl cluster-info` tries the same address.",
        )
    return ClusterError(f"The API server failed {doing} ({status}): {message}")


def _status_message(error: ApiException) -> str:
    body: Any = getattr(error, "body", None)
    if not body:
        return ""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return str(body)[:300]
    return str(data.get("message", ""))[:500] if isinstance(data, dict) else ""
