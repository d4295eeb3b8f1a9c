"""kdebug-agent: the node side of kdebug-tui.

The agent runs in a short-lived pod on the target's node, starts debug containers
through the node's container runtime and relays their terminal over a WebSocket.
"""

__version__ = "0.1.0"
