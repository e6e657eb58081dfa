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
        """The fields that fit the width; the least important go first (see `DROP_ORDER`)."""
        fields = self.fields()
        width = self.content_size.width
        sep = Text(" │ ", "dim")
        for name in (None, *DROP_ORDER):
            if name is not None:
                fields.pop(name, None)
            line = _joined(fields, sep)
            if not width or line.cell_len <= width:
                break
        else:
            # Still too wide: the model's name gives way, never the state or the changes.
            excess = line.cell_len - width
            model = fields["model"]
            model.truncate(max(1, model.cell_len - excess), overflow="ellipsis")
            line = _joined(fields, sep)
        line.no_wrap = True
        line.overflow = "ellipsis"
        return line

    def fields(self) -> dict[str, Text]:
        """Every field to show, by name, in display order."""
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
        tokens = f"{human_tokens(self.input_tokens)} in"
        if self.cache_read_tokens:
            tokens += f" ({human_tokens(self.cache_read_tokens)} cached)"
        fields = {"model": Text(self.model, "bold")}
        # A test's scripted client (`custom`) is no transport a person chose.
        if self.transport not in ("", "custom"):
            fields["via"] = Text(f" via {self.transport}", "dim")
        # Only when set or used: the line stays as it was for sessions without them.
        if self.reasoning:
            fields["reasoning"] = Text(f"reasoning {self.reasoning}", "dim")
        fields["state"] = Text(spinner + self.state, state_style)
        fields["round"] = Text(f"round {self.round}/{self.max_turns}")
        fields["tokens"] = Text(f"{tokens} / {human_tokens(self.output_tokens)} out")
        fields["cost"] = Text(format_cost(self.cost))
        fields["context"] = Text(f"ctx {context}")
        fields["changes"] = Text(f"{self.changes} unflushed", changes_style)
        if self.shell:
            fields["shell"] = Text(f"shell {self.shell}", _SHELL_STYLES.get(self.shell, "red"))
        return fields


def _joined(fields: dict[str, Text], sep: Text) -> Text:
    line = Text()
    for key, text in fields.items():
        if line and key != "via":  # the transport belongs to the model's name
            line.append_text(sep)
        line.append_text(text)
    return line


DROP_ORDER = ("via", "reasoning", "tokens", "context", "cost", "round")
"""Fields left out, in this order, until the line fits: state, unflushed changes and
the shell's confinement always stay; the model name is cut last."""
