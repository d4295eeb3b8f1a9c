"""A checkbox and a radio button whose state shows in their glyph, not only colour.

Textual draws a toggle's mark whether it is on or off and tells the two apart
by colour alone, so in a monochrome terminal, or with NO_COLOR set, every box
of the launch dialog looks checked. These draw the mark only when on.
"""

from textual.content import ContentText
from textual.widgets import Checkbox, RadioButton

EMPTY = " "
"""What an unset toggle shows between its brackets."""


class MarkedCheckbox(Checkbox):
    """A checkbox showing `X` when checked and nothing when not."""

    def __init__(
        self,
        label: ContentText,
        value: bool = False,
        *,
        compact: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(label, value, compact=compact, id=id)
        self._show_mark()

    def watch_value(self) -> None:
        """Draw the mark for the new value, then tell as Textual does."""
        self._show_mark()
        super().watch_value()

    def _show_mark(self) -> None:
        self.BUTTON_INNER = Checkbox.BUTTON_INNER if self.value else EMPTY


class MarkedRadioButton(RadioButton):
    """A radio button showing `●` when chosen and nothing when not."""

    def __init__(
        self,
        label: ContentText,
        value: bool = False,
        *,
        compact: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(label, value, compact=compact, id=id)
        self._show_mark()

    def watch_value(self) -> None:
        """Draw the mark for the new value, then tell as Textual does."""
        self._show_mark()
        super().watch_value()

    def _show_mark(self) -> None:
        self.BUTTON_INNER = RadioButton.BUTTON_INNER if self.value else EMPTY
