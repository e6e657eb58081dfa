"""One tool call in the conversation: a compact collapsible block with its arguments and result.

The title is one line that fits the pane: the call's hint (a path, a pattern, a
command) is cut to leave room for the status, which is always shown whole.
"""

from __future__ import annotations

import json
from typing import ClassVar, Protocol, runtime_checkable

from rich.cells import cell_len
from rich.console import RenderableType
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from tiller.events import SKIPPED_OUTPUTS
from tiller.terminal_text import cut_line, readable, visible
from tiller.tui.markup import escape

MAX_SHOWN_LINES = 40
MAX_EXPANDED_LINES = 1000
"""Lines an expanded output shows at most (the events pane has the whole output)."""
TAIL_LINES = 15
"""Lines of streamed output shown while a tool runs."""
OUTPUT_INTERVAL = 0.1
"""Seconds between redraws of streamed output: a fast command is drawn in batches."""
MAX_LINE_CHARS = 2_000
"""Characters of one output line drawn; the rest is counted (one huge line would take seconds)."""
_TAIL_CHARS = TAIL_LINES * 400  # one huge line must not keep the whole output alive
_SUMMARY_KEYS = ("file_path", "path", "pattern", "command", "name", "task", "agent_id")


def summarize_arguments(raw: str, name: str = "") -> tuple[str, str]:
    """(a short hint for the title, the arguments pretty-printed)."""
    arguments = parse_arguments(raw)
    if arguments is None:
        return "", raw
    hint = search_hint(arguments) if name in ("grep", "glob") else ""
    hint = hint or next((str(arguments[key]) for key in _SUMMARY_KEYS if key in arguments), "")
    if "patch" in arguments and not hint:
        hint = f"{str(arguments['patch']).count(chr(10)) + 1} patch lines"
    # A name or command shows as it is (escapes, bidi overrides, `\r` as escapes); only
    # its first line goes in the title, and a cut says so.
    first, *rest = hint.split("\n")
    shown = visible(first[:200]) + (" …" if rest or len(first) > 200 else "")
    return (shown if hint else ""), json.dumps(arguments, indent=2)


def search_hint(arguments: dict[str, object]) -> str:
    """What a grep or glob looks for, then where: `'def add' in src (*.py)`."""
    pattern = arguments.get("pattern")
    if not isinstance(pattern, str):
        return ""
    where = [f"in {arguments['path']}"] if arguments.get("path") else []
    if arguments.get("glob_filter"):
        where.append(f"({arguments['glob_filter']})")
    if arguments.get("case_insensitive"):
        where.append("(any case)")
    return " ".join([repr(pattern), *where])


def fit(text: str, cells: int) -> str:
    """`text` cut to at most `cells` terminal cells, ending in `…` when cut."""
    if cell_len(text) <= cells:
        return text
    if cells <= 1:
        return "…"[: max(cells, 0)]
    out = ""
    for char in text:
        if cell_len(out + char) > cells - 1:
            break
        out += char
    return out + "…"


def status_cells(status: str) -> int:
    """The width of a status that may hold markup."""
    return Content.from_markup(status).cell_length if "[" in status else cell_len(status)


def skip_reason(output: str, skipped: str) -> str:
    """Why a call never ran (`steering`, `cancelled`), from the event or its known result text."""
    if skipped:
        return skipped
    return next((reason for reason, text in SKIPPED_OUTPUTS.items() if text == output), "")


def parse_arguments(raw: str) -> dict[str, object] | None:
    """The call's JSON arguments as a dict, or None when they are not one."""
    try:
        arguments = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        return None
    return arguments if isinstance(arguments, dict) else None


def shown_output(text: str) -> str:
    """Output as drawn: `readable`, each line cut at `MAX_LINE_CHARS` with the rest counted."""
    if len(text) > MAX_LINE_CHARS:
        text = "\n".join(cut_line(line, MAX_LINE_CHARS) for line in text.split("\n"))
    return readable(text)


def clip(text: str, limit: int = MAX_SHOWN_LINES) -> str:
    """At most `limit` lines, saying how many more there are (the events pane has all)."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], f"… {len(lines) - limit} more lines"])


def clip_tail(text: str, limit: int = MAX_SHOWN_LINES, *, before: int = 0) -> str:
    """The last `limit` lines, saying how many came before (`before` lines already dropped)."""
    lines = text.rstrip("\n").splitlines()
    hidden = before + max(0, len(lines) - limit)
    shown = "\n".join(lines[-limit:])
    return f"… {hidden} earlier lines\n{shown}" if hidden else shown


@runtime_checkable
class Foldable(Protocol):
    """A part of a tool row that shows a few lines until asked for all of them."""

    expanded: bool

    def toggle(self) -> bool: ...


class FoldedOutput(Static):
    """Text shown as its last few lines; a click on it shows the rest (and folds it again)."""

    DEFAULT_CSS = """
    FoldedOutput.-foldable { pointer: pointer; }
    FoldedOutput.-foldable:hover { background: $boost; }
    """

    def __init__(self, text: str = "", *, classes: str = "") -> None:
        super().__init__(text, classes=classes)
        self.text = ""
        self.shown = 0
        self.expanded = False

    def show_tail(self, text: str, shown: int) -> None:
        """Show the last `shown` lines of `text`, saying how many more a click shows."""
        self.text, self.shown, self.expanded = text.rstrip("\n"), shown, False
        self._draw()

    @property
    def hidden_lines(self) -> int:
        """Lines the folded view leaves out."""
        return max(0, len(self.text.splitlines()) - self.shown) if self.shown else 0

    def _draw(self) -> None:
        hidden = self.hidden_lines
        self.set_class(bool(hidden), "-foldable")
        if not self.text:
            self.update("[dim](no output)[/dim]")
        elif not hidden:
            self.update(escape(shown_output(self.text)))
        elif self.expanded:
            body = clip_tail(self.text, MAX_EXPANDED_LINES)
            self.update(f"{escape(shown_output(body))}\n[dim]▲ click to fold[/dim]")
        else:
            lines = self.text.splitlines()[-self.shown :]
            noun = "line" if hidden == 1 else "lines"
            more = f"[dim]▼ {hidden} earlier {noun} (click to show)[/dim]"
            self.update(more + "\n" + escape(shown_output("\n".join(lines))))

    def on_click(self, event: events.Click) -> None:
        if self.hidden_lines:
            event.stop()
            self.toggle()

    def toggle(self) -> bool:
        """Show everything, or fold back to the last lines; False when nothing is folded."""
        if not self.hidden_lines:
            return False
        self.expanded = not self.expanded
        self._draw()
        return True


class ToolCallBlock(Collapsible):
    """A tool call keyed by its call id: collapsed by default, opened when it fails.

    Output a tool streams while it runs (a shell command) is drawn as its last
    `TAIL_LINES` lines, at most every `OUTPUT_INTERVAL` seconds. With its title
    focused, Enter opens or folds it and Right / Left show all of a folded output
    or diff / fold it back (as a click on it does).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "show_all(True)", "Show all", show=False),
        Binding("left", "show_all(False)", "Fold", show=False),
    ]

    DEFAULT_CSS = """
    ToolCallBlock {
        border: none;
        padding: 0;
        margin: 0 0 0 2;
        background: transparent;
        height: auto;
    }
    ToolCallBlock > Contents { padding: 0 0 0 3; height: auto; }
    ToolCallBlock CollapsibleTitle { padding: 0; color: $text-muted; text-wrap: nowrap; }
    ToolCallBlock.-error CollapsibleTitle { color: $text-error; }
    ToolCallBlock.-skipped CollapsibleTitle { color: $text-warning; }
    ToolCallBlock .tool-args { color: $text-muted; }
    ToolCallBlock .tool-output { background: $boost; padding: 0 1; }
    ToolCallBlock.-error .tool-output { color: $text-error; }
    """

    def __init__(self, call_id: str, name: str, arguments: str) -> None:
        self.call_id = call_id
        self.tool_name = name
        self.raw_arguments = arguments
        self.hint, self.arguments = summarize_arguments(arguments, name)
        self.output = ""
        self.finished = False
        self.status = "…"
        self.skipped = ""
        self.width_seen = 0  # the block's width at its last resize (0: not laid out yet)
        self._tail = ""
        self._dropped_lines = 0
        self._redraw: Timer | None = None
        self._nested: list[Widget] | None = []  # None once the contents are mounted
        self._args = Static(self.arguments_view(), classes="tool-args")
        self._result = FoldedOutput("[dim]running…[/dim]", classes="tool-output")
        super().__init__(self._args, self._result, title=self.heading("…"), collapsed=True)
        parsed = parse_arguments(arguments)
        # One argument, whole in the title (a task, an agent id): no need to repeat it below.
        if (
            parsed is not None
            and len(parsed) == 1
            and self.hint == visible(str(next(iter(parsed.values()))))
        ):
            self._args.display = False

    def arguments_view(self) -> RenderableType:
        """What the block shows of its arguments when opened."""
        return escape(shown_output(self.arguments))

    def title_cells(self) -> int:
        """Cells the title may use: the block's width less the ▶ symbol (0: not laid out)."""
        return max(0, self.width_seen - 2)

    def heading(self, status: str) -> str:
        """The title line, with `status` (running, ✓, ✗ ...) at its end, never cut."""
        room = self.title_cells() or 10_000
        room -= cell_len(self.tool_name) + status_cells(status) + 3
        hint = fit(self.hint, room) if room > 0 else ""
        hint = f" [dim]{escape(hint)}[/dim]" if hint else ""
        return f"[b]{escape(visible(self.tool_name))}[/b]{hint}  {status}"

    def action_show_all(self, expanded: bool) -> None:
        """Show every line of a folded output or diff (or fold it back)."""
        for part in self.query(".-foldable"):
            if isinstance(part, Foldable) and part.expanded != expanded:
                part.toggle()

    def on_mount(self) -> None:
        waiting, self._nested = self._nested or [], None
        if waiting:
            self.query_one(Collapsible.Contents).mount_all(waiting)

    def add_nested(self, widget: Widget) -> None:
        """Show `widget` inside this call (a subagent it started), and open the call."""
        self.collapsed = False
        if self._nested is not None:
            self._nested.append(widget)
        else:
            self.query_one(Collapsible.Contents).mount(widget)

    def set_status(self, status: str) -> None:
        """Show `status` at the end of the title."""
        self.status = status
        self.title = self.heading(status)

    def on_resize(self, event: events.Resize) -> None:
        # The hint is cut to the width, so a new width means a new title.
        self.width_seen = self.size.width
        self.title = self.heading(self.status)

    def add_output(self, delta: str) -> None:
        """Append streamed output while the tool runs; drawn in batches."""
        if self.finished:
            return
        self._tail += delta
        # Keep only what the tail can show, so a long command costs nothing per line.
        if self._tail.count("\n") > 4 * TAIL_LINES or len(self._tail) > 2 * _TAIL_CHARS:
            lines = self._tail.split("\n")
            self._dropped_lines += max(0, len(lines) - TAIL_LINES - 1)
            self._tail = "\n".join(lines[-TAIL_LINES - 1 :])[-_TAIL_CHARS:]
        if self._redraw is None:
            self._redraw = self.set_timer(OUTPUT_INTERVAL, self._draw_tail)

    def _draw_tail(self) -> None:
        self._redraw = None
        if not self.finished:
            tail = clip_tail(self._tail, TAIL_LINES, before=self._dropped_lines)
            self._result.update(escape(shown_output(tail)))

    @property
    def streamed(self) -> str:
        """The last lines of streamed output kept while the tool runs."""
        return self._tail

    def finish(
        self,
        output: str,
        is_error: bool,
        duration_ms: float | None,
        *,
        diff: str | None = None,
        skipped: str = "",
    ) -> None:
        """Show the full result; an error opens the block, a skipped call says why it never ran.

        Args:
            output: the tool's full output.
            is_error: whether the call failed.
            duration_ms: how long it ran (the approval wait left out).
            diff: for an edit, the diff of this call (see `EditCallBlock`).
            skipped: why the call never ran (`steering`, `cancelled`), if it did not.
        """
        self._stop_streaming(output)
        self.skipped = skip_reason(output, skipped)
        if self.skipped:
            self.show_skipped()
            return
        self.set_status(("✗ failed" if is_error else "✓") + took(duration_ms))
        self._result.update(escape(shown_output(clip(output))) or "[dim](no output)[/dim]")
        self.set_class(is_error, "-error")
        if is_error:
            self.collapsed = False

    def show_skipped(self) -> None:
        """A call that never ran: not a failure, and nothing to open."""
        words = "skipped (steered)" if self.skipped == "steering" else f"skipped ({self.skipped})"
        self.set_status(f"⤼ {words}")
        self._result.update(escape(shown_output(self.output)))
        self.add_class("-skipped")
        self.collapsed = True

    def _stop_streaming(self, output: str) -> None:
        self.finished = True
        self.output = output
        if self._redraw is not None:
            self._redraw.stop()
            self._redraw = None


def took(duration_ms: float | None) -> str:
    """` 2.5 s` for a slow tool; fast ones would just be noise."""
    return f" {duration_ms / 1000:.1f} s" if duration_ms and duration_ms >= 1000 else ""
