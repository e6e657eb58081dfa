"""The status bar: model, state, round n/max, tokens, cost, context use and unflushed changes."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tiller.formatting import format_cost, human_tokens

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
AWAITING_APPROVAL = "awaiting approval"
"""The state while the agent waits for the person to answer an approval modal."""


_SHELL_STYLES = {"net on": "bold yellow", "UNCONFINED": "bold white on red"}


def shell_badge(shell: bool, sandbox: str, network: bool, unavailable: str | None) -> str:
    """The status bar's shell field: empty in the safe default (confined, network off)."""
    if not shell:
        return ""
    if unavailable:
        return "off: no bwrap"
    if sandbox == "none":
        return "UNCONFINED"
    return "net on" if network else ""


class StatusBar(Static):
    """One line of facts about the session; fields are reactive."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    model = reactive("")
    transport = reactive("")
    """How the model is reached (`openai`, the lean client, or `litellm`); empty: not said."""
    state = reactive("starting")
    round = reactive(0)
    max_turns = reactive(50)
    input_tokens = reactive(0)
    output_tokens = reactive(0)
    cost: reactive[float | None] = reactive(0.0)
    cache_read_tokens = reactive(0)
    reasoning: reactive[str | None] = reactive(None)
    context_percent: reactive[int | None] = reactive(None)
    changes = reactive(0)
    frame = reactive(0)
    shell = reactive("")
    """How commands run, when it needs saying: `net on`, `UNCONFINED` or `no shell`."""

    def __init__(self, *, spinning: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spinning = spinning

    def on_mount(self) -> None:
        if self.spinning:
            self.set_interval(0.1, self._tick)

    def _tick(self) -> None:
        if self.state == "working":
            self.frame = (self.frame + 1) % len(SPINNER)

    def render(self) -> Text:
        working = self.state == "working"
        state_style = {
            "working": "bold yellow",
            AWAITING_APPROVAL: "bold reverse yellow",
            "idle": "green",
            "closed": "red",
        }.get(self.state, "dim")
        spinner = f"{SPINNER[self.frame]} " if working and self.spinning else ""
        context = "?" if self.context_percent is None else f"{self.context_percent}%"
        changes_style = "bold yellow" if self.changes else "dim"
        sep = (" │ ", "dim")
        # Only when set or used: the line stays as it was for sessions without them.
        reasoning = [(f"reasoning {self.reasoning}", "dim"), sep] if self.reasoning else []
        tokens = f"{human_tokens(self.input_tokens)} in"
        if self.cache_read_tokens:
            tokens += f" ({human_tokens(self.cache_read_tokens)} cached)"
        # A test's scripted client (`custom`) is no transport a person chose.
        via = [(f" via {self.transport}", "dim")] if self.transport not in ("", "custom") else []
        return Text.assemble(
            (self.model, "bold"),
            *via,
            sep,
            *reasoning,
            (spinner + self.state, state_style),
            sep,
            f"round {self.round}/{self.max_turns}",
            sep,
            f"{tokens} / {human_tokens(self.output_tokens)} out",
            sep,
            format_cost(self.cost),
            sep,
            f"ctx {context}",
            sep,
            (f"{self.changes} unflushed", changes_style),
            *(
                (sep, (f"shell {self.shell}", _SHELL_STYLES.get(self.shell, "red")))
                if self.shell
                else ()
            ),
            no_wrap=True,
            overflow="ellipsis",
        )
