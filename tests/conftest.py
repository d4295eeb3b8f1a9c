"""Fixtures shared by the test suites, registered as plugins."""

pytest_plugins = [
    "tests.fixtures.containerd",
    "tests.fixtures.docker",
    "tests.fixtures.cluster",
]
