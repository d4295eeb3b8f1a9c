"""The app's connections: one per kubeconfig context, made on first use.

A connection holds the context's API clients and its browser, and the session
managers that own the context's agent pods: one per agent namespace, which in
practice means one per context, since the launch dialog's agent namespace is
rarely changed. Screens ask for a connection from worker threads, so every
method here may block and is safe to call from any thread.
"""

import dataclasses
import threading
from collections.abc import Callable

from kdebug_tui.backend.browse import Browser, ClusterBrowser
from kdebug_tui.backend.errors import ConfigError
from kdebug_tui.backend.kube import ContextInfo, Kube, list_contexts
from kdebug_tui.backend.session import SessionManager
from kdebug_tui.backend.settings import Settings

IN_CLUSTER = "in-cluster"
"""The context name used when there is no kubeconfig and the pod's account is used."""

KubeFactory = Callable[[Settings, str], Kube]
"""Connects to a context (empty for the current one) with the given settings."""
BrowserFactory = Callable[[Kube], Browser]
"""Makes the browser of a connected context."""


def connect_kube(settings: Settings, context: str) -> Kube:
    """Connect to a context the way the CLI does."""
    return Kube.connect(kubeconfig=settings.kubeconfig, context=context)


@dataclasses.dataclass(frozen=True, slots=True)
class ContextConnection:
    """A connected context."""

    name: str
    kube: Kube
    browser: Browser


@dataclasses.dataclass(frozen=True, slots=True)
class StartPoint:
    """Where the browser opens: a context and one of its namespaces."""

    context: str
    namespace: str


class Connections:
    """Connects to contexts on first use and keeps the connections."""

    def __init__(
        self,
        settings: Settings,
        *,
        kube_factory: KubeFactory = connect_kube,
        browser_factory: BrowserFactory = ClusterBrowser,
    ) -> None:
        self.settings = settings
        self._kube_factory = kube_factory
        self._browser_factory = browser_factory
        self._lock = threading.Lock()
        self._connections: dict[str, ContextConnection] = {}
        self._managers: dict[tuple[str, str], SessionManager] = {}

    def contexts(self) -> list[ContextInfo]:
        """The contexts of the kubeconfig, or the in-cluster one without a kubeconfig.

        Raises:
            ConfigError: the kubeconfig exists but cannot be read.
        """
        try:
            return list_contexts(self.settings.kubeconfig)
        except ConfigError:
            if self.settings.kubeconfig or self.settings.context:
                raise
            kube = self.get(IN_CLUSTER).kube
            return [ContextInfo(IN_CLUSTER, "", "", kube.namespace, current=True)]

    def start_point(self) -> StartPoint:
        """The context and namespace to open: from the settings, else the current.

        Raises:
            ConfigError: no kubeconfig, or no such context in it.
        """
        contexts = self.contexts()
        name = self.settings.context or next(
            (c.name for c in contexts if c.current), ""
        )
        found = next((c for c in contexts if c.name == name), None)
        if found is None:
            known = ", ".join(c.name for c in contexts) or "none"
            raise ConfigError(
                f"The kubeconfig has no context {name or '(current)'}.",
                hint=f"Its contexts are: {known}. Pass --context with one of them.",
            )
        return StartPoint(found.name, self.settings.namespace or found.namespace)

    def get(self, context: str) -> ContextConnection:
        """Return the connection to `context`, connecting on first use.

        Raises:
            ConfigError: the context cannot be loaded.
        """
        with self._lock:
            known = self._connections.get(context)
            if known is not None:
                return known
            kube = self._kube_factory(
                self.settings, "" if context == IN_CLUSTER else context
            )
            connection = ContextConnection(context, kube, self._browser_factory(kube))
            self._connections[context] = connection
            return connection

    def sessions(self, context: str, agent_namespace: str) -> SessionManager:
        """Return the session manager of a context and agent namespace."""
        kube = self.get(context).kube
        with self._lock:
            key = (context, agent_namespace)
            manager = self._managers.get(key)
            if manager is None:
                settings = dataclasses.replace(
                    self.settings, agent_namespace=agent_namespace
                )
                manager = SessionManager(kube, settings)
                self._managers[key] = manager
            return manager

    @property
    def managers(self) -> list[SessionManager]:
        """Every session manager made so far."""
        with self._lock:
            return list(self._managers.values())
