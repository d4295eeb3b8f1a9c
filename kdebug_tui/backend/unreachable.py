"""Connection failures on the way to the API server, each as one sentence.

The official client lets urllib3's exceptions through when the API server
cannot be reached (`MaxRetryError` and its kin, whose text is a screenful of
connection pool and URL details), and turns TLS failures and failed WebSocket
streams into an `ApiException` with status 0. `GuardedRESTClient` stands in for
the client's HTTP transport and raises `ClusterUnreachable` instead, naming the
API server's address and the cause in a few words; `unreachable` does the same
for the streams that bypass that transport.
"""

import socket
import ssl
from collections.abc import Iterator
from typing import Any

from kubernetes import client
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException
from urllib3 import exceptions as http_errors

from kdebug_tui.backend.errors import ClusterUnreachable

UNREACHABLE_HINT = (
    "Check that the cluster is running and that {context} points at it; "
    "`{kubectl} cluster-info` tries the same address."
)


class GuardedRESTClient(rest.RESTClientObject):  # type: ignore[misc]
    """The client's HTTP transport, raising `ClusterUnreachable` on failures.

    Only connection failures are translated: an answer of the API server,
    whatever its status, still arrives as the client's `ApiException`.
    """

    def __init__(self, configuration: client.Configuration, *, context: str) -> None:
        super().__init__(configuration)
        self.context = context

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Send a request; see `RESTClientObject.request`.

        Raises:
            ClusterUnreachable: no answer came from the API server.
        """
        try:
            return super().request(*args, **kwargs)
        except http_errors.HTTPError as error:
            raise self._unreachable(error) from error
        except ApiException as error:
            # The client reports a failed TLS handshake as status 0.
            if error.status == 0 and connection_cause(error):
                raise self._unreachable(error) from error
            raise

    def _unreachable(self, error: BaseException) -> ClusterUnreachable:
        return unreachable(self.configuration.host, error, context=self.context)


def guard(api_client: client.ApiClient, *, context: str) -> client.ApiClient:
    """Give an API client the guarded transport; return the same client."""
    api_client.rest_client = GuardedRESTClient(
        api_client.configuration, context=context
    )
    return api_client


def unreachable(
    server: str, error: BaseException, *, context: str = ""
) -> ClusterUnreachable:
    """Say that the API server at `server` cannot be reached, and why."""
    cause = connection_cause(error) or "the connection failed"
    where = f" at {server}" if server else ""
    which, kubectl = "your kubeconfig", "kubectl"
    if context:
        which = f"context {context} of your kubeconfig"
        kubectl = f"kubectl --context {context}"
    return ClusterUnreachable(
        f"Cannot reach the Kubernetes API{where}: {cause}.",
        hint=UNREACHABLE_HINT.format(context=which, kubectl=kubectl),
    )


def connection_cause(error: BaseException) -> str:
    """Say in a few words why a connection failed; empty if it is no such failure.

    The operating system's error is preferred to urllib3's wrapping of it,
    which calls a refused connection a timeout.
    """
    causes = list(_causes(error))
    for describe in (_describe_os_error, _describe_http_error):
        for cause in causes:
            if text := describe(cause):
                return text
    return ""


def _describe_os_error(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"the TLS handshake failed ({error.reason or error})"
    if isinstance(error, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "the connection was cut"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return ""


def _describe_http_error(error: BaseException) -> str:
    if isinstance(error, http_errors.TimeoutError):
        return "no answer in time"
    if isinstance(error, http_errors.ProtocolError):
        return "the connection was closed before an answer came"
    return ""


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then whatever it wraps, nearest first, each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "reason", None), *current.args]
        wrapped += [current.__cause__, current.__context__]
        pending.extend(e for e in wrapped if isinstance(e, BaseException))
