"""The agent pod as the client asks the API server for it."""

import re
from typing import Any

from kdebug_agent.protocol import hash_token
from kdebug_tui.backend.agents import (
    AGENT_PORT,
    agent_pod_manifest,
    agent_pod_name,
    node_label_value,
)
from kdebug_tui.backend.settings import Settings


def _manifest(**settings: object) -> dict[str, Any]:
    return agent_pod_manifest(
        node="worker-1.example.internal",
        name="kdebug-agent-worker-1-abc123",
        token_sha256=hash_token("secret-token"),
        settings=Settings(**settings),  # type: ignore[arg-type]
        user="alice",
    )


def test_names_are_valid_pod_names_even_for_long_node_names() -> None:
    for node in ("n", "A_Very.Long.Node." * 20, "---"):
        name = agent_pod_name(node)
        assert len(name) <= 63
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    assert len(node_label_value("x" * 300)) <= 63


def test_the_pod_is_pinned_tolerant_privileged_and_has_no_host_ports() -> None:
    pod = _manifest()
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["nodeName"] == "worker-1.example.internal"
    assert [t["operator"] for t in spec["tolerations"]] == ["Exists"]
    assert container["securityContext"]["privileged"] is True
    assert not spec.get("hostNetwork")
    assert all("hostPort" not in p for p in container["ports"])
    assert container["ports"][0]["containerPort"] == AGENT_PORT
    assert spec["activeDeadlineSeconds"] == Settings().agent_lifetime


def test_only_the_hash_of_the_token_is_in_the_spec() -> None:
    pod = _manifest()
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["KDEBUG_AGENT_TOKEN_SHA256"] == hash_token("secret-token")
    assert "secret-token" not in str(pod)


def test_the_pod_is_labelled_as_ours_with_an_expiry() -> None:
    meta = _manifest()["metadata"]
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "kdebug-tui"
    assert "kdebug-tui.io/expires-at" in meta["annotations"]


def test_image_pull_policy_and_runtime_socket_come_from_settings() -> None:
    pod = _manifest(
        agent_image="registry.local/agent:9",
        agent_pull_policy="Never",
        runtime_socket="/run/k3s/containerd/containerd.sock",
    )
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (container["image"], container["imagePullPolicy"]) == (
        "registry.local/agent:9",
        "Never",
    )
    assert env["KDEBUG_AGENT_CONTAINERD_SOCKET"].startswith("/run/k3s")
