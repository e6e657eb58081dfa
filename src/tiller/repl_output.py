"""How `tiller chat` prints: the engine's events, a resumed conversation, help, the toolbar."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prompt_toolkit.patch_stdout import StdoutProxy
from rich.console import (
    Console,
    ConsoleOptions,
    ConsoleRenderable,
    RenderableType,
    RenderHook,
    RenderResult,
)
from rich.markdown import Markdown
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from tiller.commands import COMMANDS
from tiller.events import Event, EventKind
from tiller.formatting import format_cost, human_tokens
from tiller.repl_approvals import OutputTail
from tiller.terminal_text import cut_line, has_controls, inert, readable, visible, without_controls

if TYPE_CHECKING:
    from tiller.chat import SavedSession
    from tiller.session import Session
    from tiller.workspace import Workspace

CHANGE_MARK = {"added": "A", "modified": "M", "deleted": "D"}

LINE_CHARS = 2_000
"""Characters of one line of command output printed; the rest is counted."""

ARGUMENT_KEYS = ("file_path", "path", "pattern", "command", "name", "task", "agent_id")

KEYS = (
    ("Enter", "send; while the agent runs: steer it"),
    ("Alt+Enter, or a trailing \\", "new line"),
    ("Ctrl+C", "interrupt the run; twice quits (idle: clear the line)"),
    ("Ctrl+D", "quit (on an empty line)"),
    ("Tab", "complete /commands and @paths"),
    (
        "y / a / n [reason]",
        "answer a shell approval: once, this session, deny (reason to the model)",
    ),
)


def summarize_call(name: str, arguments: str) -> str:
    """`write_file a.py`: the tool and its most telling argument."""
    import json

    try:
        args = json.loads(arguments) if arguments else {}
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        args = {}
    if isinstance(args, dict):
        for key in ARGUMENT_KEYS:
            value = args.get(key)
            if isinstance(value, str) and value:
                return f"{name} {visible(one_line(value, 70))}"
    return name


def one_line(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def help_table() -> Table:
    """Every command of the shared table, then the REPL's keys."""
    table = Table.grid(padding=(0, 2))
    table.add_row(Text("Commands", style="bold"))
    for command in COMMANDS:
        table.add_row(Text(command.usage), Text(command.help))
    table.add_row(Text("Keys", style="bold"))
    for key, what in KEYS:
        table.add_row(Text(key), Text(what))
    table.add_row(Text("@path", style="dim"), Text("mention a workspace file (Tab completes)"))
    return table


def flush_listing(workspace: Workspace, conflicts: set[str]) -> str:
    """What a flush would write (markup), conflicts marked."""
    changes = workspace.changes()
    lines = [f"{len(changes)} change(s) to write under {escape(visible(str(workspace.root)))}:"]
    for path, kind in changes:
        note = "  [red](changed on disk since read)[/red]" if path in conflicts else ""
        lines.append(f"  {CHANGE_MARK.get(kind, '?')} {escape(visible(path))}{note}")
    return "\n".join(lines)


def skills_listing(skills: tuple[list[tuple[str, str]], list[str]]) -> str:
    """The controller's skills (and the skipped ones) as markup lines."""
    loadable, skipped = skills
    lines = [f"[b]{len(loadable)} skill(s)[/b] the agent can load:"]
    lines += [
        f"  [b]{escape(visible(name))}[/b] — {escape(readable(what))}" for name, what in loadable
    ]
    lines += [f"  [yellow]skipped[/yellow] {escape(readable(why))}" for why in skipped]
    return "\n".join(lines)


def sessions_listing(saved: list[SavedSession], current: str) -> Text:
    """This window's and the project's saved conversations, newest first."""
    lines = [f"{len(saved)} conversation(s) of this project (/resume <id> opens one):"]
    for entry in saved:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.updated))
        mark = "*" if entry.id == current else " "
        first = visible(one_line(entry.first_prompt, 60)) or "(empty)"
        counts = f"{entry.prompts} prompt(s), {entry.unflushed} unflushed"
        lines.append(f" {mark} {entry.id}  {when}  {counts}  {first}")
    return Text("\n".join(lines))


class ControlsDropped:
    """A renderable drawn without the terminal controls its text holds.

    The REPL's last line of defence (the TUI's is its `ControlFilter`): whatever
    a printout missed, no escape sequence, C1 control or bidi override reaches
    the terminal. Rich's own codes (colours, links) are not in segment text.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            if segment.control or not has_controls(segment.text):
                yield segment
            else:
                yield Segment(without_controls(segment.text), segment.style)


class DropControls(RenderHook):
    """Wraps everything a console prints in `ControlsDropped`."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [ControlsDropped(renderable) for renderable in renderables]


class EventPrinter:
    """Prints the events that land in the scrollback (the live preview is the prompt's)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._thinking = ""
        self._calls: dict[str, str] = {}
        self._tails = OutputTail()

    def flush_thinking(self) -> None:
        """Reasoning is shown whole once the round moves on: dimmed, apart from the answer."""
        if self._thinking:
            self.console.print(Text(readable(self._thinking.strip()), style="dim italic"))
            self._thinking = ""

    def show(self, event: Event) -> None:
        kind, data = event.kind, event.data
        if kind is EventKind.ASSISTANT_REASONING_DELTA:
            self._thinking += str(data.get("delta", ""))
            return
        self.flush_thinking()
        if kind is EventKind.ASSISTANT_TEXT_END:
            text = readable(str(data.get("text", ""))).strip()
            if text:
                self.console.print(Markdown(text))
        elif kind is EventKind.TOOL_CALL_START:
            self._calls[str(data.get("call_id"))] = summarize_call(
                str(data.get("name", "")), str(data.get("arguments") or "")
            )
        elif kind is EventKind.TOOL_CALL_OUTPUT_DELTA:
            for line in self._tails.feed(str(data.get("call_id")), str(data.get("delta", ""))):
                self.console.print(f"[dim]│ {escape(readable(cut_line(line, LINE_CHARS)))}[/dim]")
        elif kind is EventKind.TOOL_CALL_END:
            self._call_ended(data)
        elif kind is EventKind.STEERING_INJECTED:
            self.console.print("[dim]↪ steering delivered[/dim]")
        elif kind is EventKind.ERROR and not data.get("fatal"):
            # Fatal ones (auth) are said by the controller once the run has ended.
            self.console.print(
                Text(f"Provider error: {inert(str(data.get('message', '')))}", style="red")
            )
        elif kind is EventKind.MODEL_CLIENT_LOADING:
            self.console.print(Text(str(data.get("message", "")), style="dim"))
        elif kind in (EventKind.WARNING, EventKind.LOOP_DETECTION):
            self.console.print(Text(f"⚠ {readable(str(data.get('message', '')))}", style="yellow"))
        elif kind is EventKind.CONTEXT_COMPACTED:
            before = human_tokens(int(data.get("tokens_before", 0)))
            after = human_tokens(int(data.get("tokens_after", 0)))
            self.console.print(f"[dim]── context compacted: {before} → {after} tokens ──[/dim]")
            self.console.print(Markdown(readable(str(data.get("summary", "")))), style="dim")

    def _call_ended(self, data: dict[str, object]) -> None:
        tail, hidden = self._tails.finish(str(data.get("call_id")))
        for line in tail:
            self.console.print(f"[dim]│ {escape(readable(cut_line(line, LINE_CHARS)))}[/dim]")
        if hidden:
            self.console.print(f"[dim]│ … {hidden} more line(s)[/dim]")
        label = self._calls.pop(str(data.get("call_id")), str(data.get("name", "")))
        if data.get("is_error"):
            first = readable(str(data.get("output", ""))[:2000]).strip().split("\n")[0]
            self.console.print(
                f"[red]✗[/red] {escape(label)} [dim]— {escape(one_line(first, 90))}[/dim]"
            )
        else:
            self.console.print(f"[green]✓[/green] {escape(inert(label))}")

    def recap(self, session: Session) -> None:
        """A resumed conversation: its size, its last prompt and answer."""
        from tiller.history import AssistantTurn, UserTurn

        prompts = [t for t in session.history if isinstance(t, UserTurn) and t.kind != "summary"]
        answers = [t for t in session.history if isinstance(t, AssistantTurn) and t.text]
        changes = len(session.workspace.changes())
        self.console.print(
            Text(
                f"Resumed session {session.id}: {len(prompts)} prompt(s), "
                f"{changes} unflushed change(s).",
                style="bold",
            )
        )
        if prompts:
            self.console.print(f"[dim]› {escape(readable(one_line(prompts[-1].text, 90)))}[/dim]")
        if answers:
            self.console.print(Markdown(readable(answers[-1].text)))


def toolbar_text(session: Session, state: str, running: bool) -> str:
    """The line under the prompt: model, state, tokens, cost, unflushed changes, a hint."""
    usage = session.usage
    changes = len(session.workspace.changes())
    tokens = f"{human_tokens(usage.input_tokens)}↑ {human_tokens(usage.output_tokens)}↓"
    hint = "Enter steers · Ctrl+C interrupts" if running else "/help · Ctrl+D quits"
    return (
        f" {session.model} · {state} · {tokens} {format_cost(usage.cost_usd)}"
        f" · {changes} unflushed · {hint} "
    )


def welcome_text(session: Session) -> str:
    """The first lines: model, workspace, and how edits and keys work (markup)."""
    root = session.workspace.root
    where = f" · workspace [b]{escape(visible(str(root)))}[/b]" if root is not None else ""
    return (
        f"[b]Tiller[/b] · {escape(session.model)}{where}\n"
        "[dim]Edits stay in memory until /flush (or /export). Enter sends, "
        "Alt+Enter or a trailing \\ adds a line, /help lists commands, Ctrl+D quits.[/dim]"
    )


def clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


@contextlib.contextmanager
def patched_stdout() -> Iterator[None]:
    """prompt-toolkit's `patch_stdout(raw=True)`, flushing every 20 ms instead of 200 ms.

    Output then lands above the prompt in the order lines were typed, even when
    a person types ahead.
    """
    with (
        StdoutProxy(raw=True, sleep_between_writes=0.02) as proxy,
        contextlib.redirect_stdout(proxy),
        contextlib.redirect_stderr(proxy),
    ):
        yield
