"""The one error the cluster tooling raises: a step failed, and here is why."""


class ClusterError(Exception):
    """A step of bringing the test cluster up or down failed.

    The message is a sentence a person can act on; the underlying cause, when there
    is one, is chained.
    """
