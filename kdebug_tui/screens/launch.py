"""The launch dialog: how to debug a container, with the settings as defaults.

`d` launches with the defaults; `D` opens this dialog first. It asks for what
users of kubectl debug and k9s's debug plugin set most often: the image, the
command, which of the target's namespaces to join, whether the debug container
is privileged, the image pull policy, and the agent pod's namespace.
"""

import dataclasses
import shlex
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, Static

from kdebug_tui.backend.names import NAMESPACE_NAME
from kdebug_tui.backend.resources import ContainerKind, PodInfo
from kdebug_tui.backend.session import LaunchOptions
from kdebug_tui.backend.settings import PULL_POLICIES, Settings
from kdebug_tui.widgets.in_order_input import InOrderInput
from kdebug_tui.widgets.toggles import MarkedCheckbox, MarkedRadioButton

SHAREABLE = ("pid", "net", "ipc", "uts", "user")
"""The target's namespaces a debug container can join."""


class LaunchForm(VerticalScroll, can_focus=False):
    """The dialog's body; it scrolls to the focused field, and is no Tab stop."""


@dataclasses.dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What the dialog answers: the container, the options, the agent namespace."""

    container: str
    options: LaunchOptions
    agent_namespace: str


class LaunchScreen(ModalScreen[LaunchRequest | None]):
    """Asks how to debug a pod's container; answers None when cancelled."""

    CSS_PATH = "launch.tcss"

    # Tab moves the focus when the key is read, not when it has passed the
    # field it leaves: the keys typed right after it belong to the next field.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "launch", "Launch"),
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding(
            "shift+tab",
            "app.focus_previous",
            "Previous field",
            show=False,
            priority=True,
        ),
    ]

    def __init__(self, pod: PodInfo, container: str, settings: Settings) -> None:
        super().__init__()
        self.pod = pod
        self.settings = settings
        self.choices = [
            c for c in pod.containers if c.kind is not ContainerKind.EPHEMERAL
        ]
        running = [c.name for c in self.choices if c.debuggable]
        self.container = container or (running[0] if running else "")

    def compose(self) -> ComposeResult:
        """The form, then the buttons."""
        settings = self.settings
        # It scrolls where the terminal is shorter than the form.
        with LaunchForm(id="launch-dialog"):
            yield Label("Debug a container", id="launch-title")
            yield Static(f"Pod {self.pod.namespace}/{self.pod.name}", id="launch-pod")
            yield Label("Container")
            yield Select(
                [(f"{c.name}  ({c.state_text})", c.name) for c in self.choices],
                value=self.container or Select.NULL,
                allow_blank=not self.container,
                prompt="Choose a container",
                compact=True,
                id="container",
            )
            yield Label("Image")
            # The cursor at the end, nothing selected: a key typed by mistake
            # does not replace the image.
            yield InOrderInput(
                settings.image, compact=True, select_on_focus=False, id="image"
            )
            yield Label("Command")
            yield InOrderInput(
                placeholder="the image's default command, e.g. bash",
                compact=True,
                select_on_focus=False,
                id="command",
            )
            yield Label("Namespaces of the target to join")
            with Horizontal(id="namespaces"):
                for name in SHAREABLE:
                    yield MarkedCheckbox(
                        name, name in settings.namespaces, compact=True, id=f"ns-{name}"
                    )
            yield Label("Security profile")
            with RadioSet(id="profile"):
                yield MarkedRadioButton(
                    "privileged", settings.privileged, id="privileged"
                )
                yield MarkedRadioButton(
                    "unprivileged (default capabilities)",
                    not settings.privileged,
                    id="unprivileged",
                )
            yield Label("Image pull policy")
            with RadioSet(id="pull-policy"):
                for policy in PULL_POLICIES:
                    yield MarkedRadioButton(
                        policy, policy == settings.pull_policy, id=f"pull-{policy}"
                    )
            yield Label("Agent namespace")
            yield InOrderInput(
                settings.agent_namespace,
                compact=True,
                select_on_focus=False,
                id="agent-namespace",
            )
            yield Static(id="launch-problem")
            with Horizontal(id="launch-buttons"):
                yield Button(
                    "Launch (ctrl+s)", variant="primary", compact=True, id="launch"
                )
                yield Button("Cancel (esc)", compact=True, id="cancel")

    def on_mount(self) -> None:
        """Start on the image, the field changed most often."""
        # At once, not after the app's queued keys (as `Widget.focus` would):
        # the keys typed while the dialog opened come next and go there.
        self.set_focus(self.query_one("#image", Input))

    def on_input_submitted(self) -> None:
        """Enter in a field launches."""
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Launch or cancel."""
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        """Close without launching."""
        self.dismiss(None)

    def action_launch(self) -> None:
        """Check the form and answer with the request, or say what is wrong."""
        try:
            request = self.request()
        except ValueError as problem:
            self.query_one("#launch-problem", Static).update(str(problem))
            return
        self.dismiss(request)

    def request(self) -> LaunchRequest:
        """The request the form describes.

        Raises:
            ValueError: a field is invalid; the message says which and why.
        """
        container = self.query_one("#container", Select).value
        if not isinstance(container, str):
            raise ValueError("Choose the container to debug.")
        info = self.pod.container(container)
        if info is not None and not info.debuggable:
            raise ValueError(
                f"Container {container} is {info.state_text}; only a running "
                "container can be debugged."
            )
        image = self.query_one("#image", Input).value.strip()
        if not image:
            raise ValueError("Name the debug image.")
        try:
            command = tuple(shlex.split(self.query_one("#command", Input).value))
        except ValueError as error:
            raise ValueError(
                f"The command cannot be split into words: {error}."
            ) from None
        namespaces = tuple(
            n for n in SHAREABLE if self.query_one(f"#ns-{n}", MarkedCheckbox).value
        )
        agent_namespace = self.query_one("#agent-namespace", Input).value.strip()
        if not NAMESPACE_NAME.fullmatch(agent_namespace):
            raise ValueError(f"{agent_namespace!r} is not a namespace name.")
        pressed = self.query_one("#pull-policy", RadioSet).pressed_button
        options = LaunchOptions.from_settings(
            self.settings,
            image=image,
            command=command,
            namespaces=namespaces,
            privileged=self.query_one("#privileged", RadioButton).value,
            pull_policy=str(pressed.label) if pressed else None,
        )
        return LaunchRequest(container, options, agent_namespace)
