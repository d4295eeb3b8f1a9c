"""A text input that applies every key in the order it was typed.

Textual's `Input` types a printable key as soon as the key reaches it, but its
editing keys (backspace, arrows, home, end, ctrl+u...) are bindings, and a
binding acts only once its key has bubbled up to the app. Keys that come in one
burst (a fast typist, a busy app catching up, a paste of keystrokes) overtake
one another: "ab", backspace, "c" typed fast becomes "abc" with the "c" deleted
instead of "ac". This input runs its own bindings when the key reaches it.
"""

from textual import events
from textual.widgets import Input


class InOrderInput(Input):
    """An `Input` whose editing keys act in the order they are typed."""

    async def on_key(self, event: events.Key) -> None:
        """Run the input's own binding of the key now, before the next key."""
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
