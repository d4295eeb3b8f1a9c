"""The `:` commands of the browser, as k9s users type them.

Parsing is separate from running so that the words the user may type live in
one table, which the help screen and the prompt's suggestions read too.
"""

import dataclasses

ALL_NAMESPACES = "all"
"""The namespace argument that means every namespace, as in k9s."""


@dataclasses.dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command: its name, its aliases, its argument and what it does."""

    name: str
    aliases: tuple[str, ...]
    argument: str
    help: str


COMMANDS = (
    CommandSpec(
        "pods",
        ("po", "pod"),
        "[NAMESPACE|all]",
        "pods of the current namespace, of NAMESPACE, or of all namespaces",
    ),
    CommandSpec(
        "ns",
        ("namespace", "namespaces"),
        "[NAME|all]",
        "the namespaces of the context, or the pods of namespace NAME",
    ),
    CommandSpec(
        "ctx",
        ("context", "contexts"),
        "[NAME]",
        "the contexts of the kubeconfig, or the pods of context NAME",
    ),
    CommandSpec("help", ("h",), "", "every key and command"),
    CommandSpec("quit", ("q", "q!"), "", "quit, ending every debug session"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Command:
    """A parsed command line."""

    name: str
    """The command's canonical name."""
    argument: str = ""


class CommandError(ValueError):
    """The command line is not a command; the message says which ones exist."""


def parse_command(line: str) -> Command:
    """Parse a command line such as `ns kube-system` (a leading `:` is allowed).

    Raises:
        CommandError: unknown command, or too many arguments.
    """
    words = line.strip().removeprefix(":").split()
    if not words:
        raise CommandError("Type a command, e.g. `pods`, `ns NAME` or `ctx NAME`.")
    word, arguments = words[0].lower(), words[1:]
    spec = next((c for c in COMMANDS if word == c.name or word in c.aliases), None)
    if spec is None:
        names = ", ".join(c.name for c in COMMANDS)
        raise CommandError(f"There is no command `{word}`; the commands are {names}.")
    if len(arguments) > (1 if spec.argument else 0):
        usage = f"{spec.name} {spec.argument}".strip()
        raise CommandError(f"Usage: `:{usage}`.")
    return Command(spec.name, arguments[0] if arguments else "")


def suggestions(namespaces: list[str], contexts: list[str]) -> list[str]:
    """Complete command lines the prompt may suggest as the user types."""
    lines = [c.name for c in COMMANDS]
    lines += [f"ns {name}" for name in [ALL_NAMESPACES, *namespaces]]
    lines += [f"pods {name}" for name in [ALL_NAMESPACES, *namespaces]]
    lines += [f"ctx {name}" for name in contexts]
    return lines
