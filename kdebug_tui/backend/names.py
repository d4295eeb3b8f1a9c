"""The shapes of Kubernetes names, checked before a name goes into a URL.

A namespace is a DNS label and a pod a DNS subdomain. A name of another shape
would be refused by the API server, or worse, a `/` in it would name another
resource. The module is light on purpose: the command line checks its
arguments with it before anything heavy is imported.
"""

import re

NAMESPACE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
POD_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
SHAPES = {"namespace": NAMESPACE_NAME, "pod": POD_NAME}
NAME_HINT = (
    "Kubernetes names are lowercase letters, digits and '-' (and '.' in pod "
    "names), starting and ending with a letter or digit."
)


def name_problem(kind: str, name: str) -> str:
    """Say what is wrong with a `namespace` or `pod` name; empty when nothing is."""
    if SHAPES[kind].fullmatch(name):
        return ""
    return f"{name!r} is not a valid {kind} name."
