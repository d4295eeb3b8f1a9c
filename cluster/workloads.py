"""The sample workloads of the demo cluster and the RBAC bindings of its test users.

The samples cover what the debugger must cope with: a pod with one container, a pod
with several, a pod whose init container keeps running (a native sidecar), a pod
that keeps crashing, and a pod whose image has no shell at all, spread over more
than one namespace. Images are never pulled: they were imported into containerd.
"""

from typing import Any

import yaml

from cluster import layout, pki

Manifest = dict[str, Any]

DEMO_NAMESPACE = "kdebug-demo"
OTHER_NAMESPACE = "kdebug-demo-jobs"
EMPTY_NAMESPACE = "kdebug-demo-empty"
SAMPLE_NAMESPACES = (DEMO_NAMESPACE, OTHER_NAMESPACE, EMPTY_NAMESPACE)
SAMPLE_LABEL = "app.kubernetes.io/part-of"
SAMPLE_LABEL_VALUE = "kdebug-tui-samples"
WEB_PORT = 8080
CRASH_LOOP_POD = "crash-loop"

RBAC_FILE = layout.REPO_DIR / "deploy" / "rbac.yaml"
USER_ROLE = "kdebug-tui-user"
LAUNCHER_ROLE = "kdebug-tui-agent-launcher"
LAUNCHER_ROLE_NO_PORTFORWARD = "kdebug-tui-agent-launcher-no-portforward"

# The shell loops sleep in short steps so that a SIGTERM is acted on at once.
IDLE = "trap 'exit 0' TERM; while true; do sleep 1; done"
WEB_SERVER = (
    "mkdir -p /tmp/www && echo 'hello from kdebug-demo/web' > /tmp/www/index.html"
    f" && exec httpd -f -p {WEB_PORT} -h /tmp/www"
)


def sample_manifests(*, shell_image: str, no_shell_image: str) -> list[Manifest]:
    """Return the namespaces and pods of the samples.

    Args:
        shell_image: Full name of an imported image with busybox's shell.
        no_shell_image: Full name of an imported image without any shell, whose
            default command keeps running.
    """

    def shell(name: str, script: str) -> Manifest:
        return _container(name, shell_image, ["sh", "-c", script])

    namespaces = [_namespace(name) for name in SAMPLE_NAMESPACES]
    web = shell("web", WEB_SERVER)
    web["ports"] = [{"name": "http", "containerPort": WEB_PORT}]
    sidecar = shell("proxy", IDLE)
    sidecar["restartPolicy"] = "Always"
    no_shell = {
        "name": "static",
        "image": no_shell_image,
        "imagePullPolicy": "Never",
    }
    crasher = shell(
        "crasher", "echo 'starting, then failing on purpose'; sleep 3; exit 1"
    )
    pods = [
        _pod(DEMO_NAMESPACE, "web", [web]),
        _pod(
            DEMO_NAMESPACE,
            "multi",
            [shell("app", IDLE), shell("sidecar", IDLE), shell("metrics", IDLE)],
        ),
        _pod(
            DEMO_NAMESPACE,
            "native-sidecar",
            [shell("app", IDLE)],
            init_containers=[sidecar],
        ),
        _pod(DEMO_NAMESPACE, CRASH_LOOP_POD, [crasher]),
        _pod(DEMO_NAMESPACE, "no-shell", [no_shell]),
        _pod(OTHER_NAMESPACE, "worker", [shell("worker", IDLE)]),
    ]
    return namespaces + pods


def user_rbac_manifests() -> list[Manifest]:
    """Return deploy/rbac.yaml's roles plus the test users' bindings.

    The user without port-forward gets a copy of the launcher Role with the
    pods/portforward rule taken out, so the two stay alike in everything else.
    """
    roles = [doc for doc in yaml.safe_load_all(RBAC_FILE.read_text()) if doc]
    launcher = next(role for role in roles if role["metadata"]["name"] == LAUNCHER_ROLE)
    without_forward = {
        **launcher,
        "metadata": {**launcher["metadata"], "name": LAUNCHER_ROLE_NO_PORTFORWARD},
        "rules": [
            rule
            for rule in launcher["rules"]
            if "pods/portforward" not in rule["resources"]
        ],
    }
    return [
        *roles,
        without_forward,
        _cluster_role_binding(USER_ROLE, pki.USER),
        _cluster_role_binding(USER_ROLE, pki.USER_NO_PORTFORWARD),
        _role_binding(LAUNCHER_ROLE, pki.USER),
        _role_binding(LAUNCHER_ROLE_NO_PORTFORWARD, pki.USER_NO_PORTFORWARD),
    ]


def as_list(manifests: list[Manifest]) -> str:
    """Return manifests as one YAML List document for `kubectl apply -f -`."""
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": manifests})


def _namespace(name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {SAMPLE_LABEL: SAMPLE_LABEL_VALUE}},
    }


def _container(name: str, image: str, command: list[str]) -> Manifest:
    return {
        "name": name,
        "image": image,
        # Nothing can be pulled here: the images were imported into containerd.
        "imagePullPolicy": "Never",
        "command": command,
    }


def _pod(
    namespace: str,
    name: str,
    containers: list[Manifest],
    *,
    init_containers: list[Manifest] | None = None,
) -> Manifest:
    spec: Manifest = {
        "containers": containers,
        "terminationGracePeriodSeconds": 2,
        "enableServiceLinks": False,
    }
    if init_containers:
        spec["initContainers"] = init_containers
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {SAMPLE_LABEL: SAMPLE_LABEL_VALUE, "app": name},
        },
        "spec": spec,
    }


def _subject(user: str) -> Manifest:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}


def _cluster_role_binding(role: str, user: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{role}-{user}"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role,
        },
        "subjects": [_subject(user)],
    }


def _role_binding(role: str, user: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{role}-{user}", "namespace": layout.AGENT_NAMESPACE},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": role,
        },
        "subjects": [_subject(user)],
    }
