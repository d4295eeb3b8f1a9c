"""kdebug-tui: a terminal UI for debug shells in running Kubernetes containers."""

__version__ = "0.1.0"
