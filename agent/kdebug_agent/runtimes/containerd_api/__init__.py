"""gRPC stubs for the parts of containerd's API the agent uses.

The `.proto` files here are the project's own, written from containerd's
documented package, service and method names and field numbers; only what the
agent sends or reads is described. The `_pb2` modules are generated from them
by `python -m kdebug_agent.runtimes.containerd_api.generate` and committed, and
a unit test checks that they match a fresh generation.
"""
