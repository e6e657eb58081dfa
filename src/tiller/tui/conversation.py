"""The conversation: messages, streamed assistant Markdown, tool calls and notices.

Each engine event updates one widget (the assistant message being streamed, or
the tool block with that call id); the transcript is never rebuilt.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from tiller.events import EDIT_TOOLS
from tiller.formatting import human_tokens
from tiller.terminal_text import readable, unfinished_end
from tiller.tui.edit_call import EditCallBlock
from tiller.tui.markup import escape
from tiller.tui.shell_call import ShellCallBlock
from tiller.tui.subagent_rows import SubagentBlock
from tiller.tui.tool_call import ToolCallBlock

UserKind = Literal["user", "steering", "follow_up"]
STREAM_INTERVAL = 0.2
"""Seconds between Markdown updates while text streams (the first words go at once)."""
TYPING_PAUSE = 0.25
"""While the person types (a key within this many seconds), streamed text waits..."""
MAX_HOLD = 1.0
"""...but never longer than this since the last update."""
Level = Literal["info", "warning", "error"]
MAX_DRAWN_CHARS = 100_000
MAX_DRAWN_LINES = 2_000
"""Of one answer, at most this much is drawn: Markdown lays a code block out at about a
millisecond a line, on the UI thread (150,000 lines took 100 s, keys unanswered)."""

_USER_LABELS = {
    "user": "[b]You[/b]",
    "steering": "[b]You (steering)[/b]",
    "follow_up": "[b]You (follow-up)[/b]",
}


class UserMessage(Static):
    """What the person said; steering and follow-ups carry their own colour and label."""

    DEFAULT_CSS = """
    UserMessage {
        margin: 1 0 0 0;
        padding: 0 1;
        border-left: outer $primary;
        background: $boost;
    }
    UserMessage.-steering { border-left: outer $warning; }
    UserMessage.-follow_up { border-left: outer $accent; }
    """

    def __init__(self, text: str, kind: UserKind) -> None:
        super().__init__(f"{_USER_LABELS[kind]}\n{escape(readable(text))}", classes=f"-{kind}")
        self.text = text
        self.kind = kind


class AssistantMessage(Markdown):
    """The model's text, streamed in as Markdown."""

    DEFAULT_CSS = """
    AssistantMessage { margin: 1 0 0 0; padding: 0 1; background: transparent; }
    """


class Notice(Static):
    """A line from Tiller itself: errors, warnings, limits, command output."""

    DEFAULT_CSS = """
    Notice { margin: 1 0 0 0; padding: 0 1; color: $text-muted; }
    Notice.-warning { color: $text-warning; border-left: outer $warning; }
    Notice.-error { color: $text-error; border-left: outer $error; }
    """

    def __init__(self, text: str, level: Level = "info", *, markup: bool = True) -> None:
        # Plain text is the outside's (errors, warnings): shown readable, never acted on.
        super().__init__(text if markup else readable(text), classes=f"-{level}", markup=markup)


class CompactionMarker(Collapsible):
    """One line where the history was compacted; opening it shows the model's summary."""

    DEFAULT_CSS = """
    CompactionMarker {
        border: none;
        padding: 0;
        margin: 1 0 0 0;
        background: transparent;
        height: auto;
    }
    CompactionMarker CollapsibleTitle { padding: 0 1; color: $text-muted; }
    CompactionMarker > Contents { padding: 0 1 0 3; height: auto; }
    """

    def __init__(self, summary: str, tokens: tuple[int, int] | None = None) -> None:
        self.summary = summary
        shrink = f": {human_tokens(tokens[0])} → {human_tokens(tokens[1])} tokens" if tokens else ""
        super().__init__(
            Markdown(readable(summary)),
            title=f"context compacted{shrink}",
            collapsed=True,
        )


class TurnLimitNotice(Horizontal):
    """The run stopped at the round limit; a button (or `/continue`) goes on."""

    DEFAULT_CSS = """
    TurnLimitNotice { height: auto; margin: 1 0 0 0; border-left: outer $warning; }
    TurnLimitNotice Static { width: 1fr; padding: 0 1; color: $text-warning; }
    TurnLimitNotice Button { margin: 0 1; }
    """

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds

    def compose(self) -> ComposeResult:
        yield Static(
            f"Stopped after {self.rounds} rounds (the per-prompt limit, --max-turns). "
            "Press Continue, or type /continue, to let the agent go on."
        )
        yield Button("Continue", variant="warning", compact=True, classes="continue")


class DrawBudget:
    """How much of one answer is still drawn; past `MAX_DRAWN_*` the rest is only counted."""

    def __init__(self) -> None:
        self.chars = 0
        self.lines = 0
        self.hidden = 0

    def take(self, text: str) -> str:
        """The part of `text` to draw (the rest adds to `hidden`)."""
        if self.hidden:
            self.hidden += len(text)
            return ""
        cut = min(len(text), MAX_DRAWN_CHARS - self.chars)
        room = MAX_DRAWN_LINES - self.lines
        if text.count("\n", 0, cut) > room:
            cut = -1
            for _ in range(room + 1):
                cut = text.index("\n", cut + 1)
        self.chars += cut
        self.lines += text.count("\n", 0, cut)
        self.hidden = len(text) - cut
        return text[:cut]

    def note(self) -> str:
        """What to say under a cut answer."""
        return (
            f"… {self.hidden:,} more characters of this answer are not drawn here; "
            "the session keeps it whole (`tiller sessions show` prints it)."
        )


class Conversation(VerticalScroll):
    """The transcript of one session."""

    DEFAULT_CSS = """
    Conversation { padding: 0 1; }
    """

    stream_interval = STREAM_INTERVAL
    typing_pause = TYPING_PAUSE
    max_hold = MAX_HOLD

    class ContinueRequested(Message):
        """The person asked to go on after a turn limit."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._assistant: AssistantMessage | None = None
        self._stream: MarkdownStream | None = None
        self._tools: dict[str, ToolCallBlock] = {}  # by call id; a subagent's: "agent_1:call_3"
        self._agents: dict[str, SubagentBlock] = {}
        self._pending: list[str] = []
        self._flush_timer: Timer | None = None
        self._flushed_at: float | None = None  # None: nothing of this message drawn yet
        self._last_key = 0.0
        self._watching_prompt = False
        self._thinking: Thinking | None = None
        self._budget = DrawBudget()

    def on_mount(self) -> None:
        self.anchor()

    # -- messages ---------------------------------------------------------------

    def add_user(self, text: str, kind: UserKind = "user") -> None:
        self.mount(UserMessage(text, kind))

    def add_compaction(self, summary: str, tokens: tuple[int, int] | None = None) -> None:
        """Mark where the history was compacted (tokens before and after, when known)."""
        self.mount(CompactionMarker(summary, tokens))

    def add_notice(self, text: str, level: Level = "info", *, markup: bool = True) -> Notice:
        notice = Notice(text, level, markup=markup)
        self.mount(notice)
        return notice

    def replay(self, history: list[Any]) -> None:
        """Show a restored history (a resumed session) as if it had just happened."""
        from tiller.compaction import summary_of
        from tiller.history import AssistantTurn, UserTurn

        for turn in history:
            if isinstance(turn, UserTurn) and turn.kind == "summary":
                self.add_compaction(summary_of(turn))
            elif isinstance(turn, UserTurn):
                self.add_user(turn.text, turn.kind)
            elif isinstance(turn, AssistantTurn):
                if turn.text:
                    budget = DrawBudget()
                    self.mount(AssistantMessage(readable(budget.take(turn.text))))
                    if budget.hidden:
                        self.add_notice(budget.note(), markup=False)
                for call in turn.tool_calls:
                    self.tool_started(call.id, call.name, call.arguments)
            else:
                for result in turn.results:
                    self.tool_finished(
                        result.call_id, result.name, result.output, result.is_error, None
                    )

    def add_turn_limit(self, rounds: int) -> None:
        self.mount(TurnLimitNotice(rounds))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.has_class("continue"):
            event.stop()
            self.post_message(self.ContinueRequested())

    # -- streamed assistant text ---------------------------------------------------

    def append_reasoning(self, delta: str) -> None:
        """Add streamed thinking to this round's (collapsible, dimmed) thinking block."""
        if self._thinking is None:
            self._thinking = Thinking()
            self.mount(Collapsible(self._thinking, title="Thinking", classes="thinking"))
        self._thinking.add(delta)

    def begin_assistant(self) -> None:
        self._thinking = None
        self._assistant = AssistantMessage()
        self.mount(self._assistant)
        self._stream = Markdown.get_stream(self._assistant)
        self._flushed_at = None
        self._budget = DrawBudget()
        self._watch_typing()

    def _watch_typing(self) -> None:
        """Note each key that moves the prompt's cursor, so streaming gives way to typing."""
        if self._watching_prompt:
            return
        prompt = next(iter(self.screen.query("Prompt")), None)
        if prompt is not None:
            self._watching_prompt = True
            self.watch(prompt, "selection", self._typed, init=False)

    def _typed(self) -> None:
        self._last_key = time.monotonic()

    async def append_assistant(self, delta: str) -> None:
        """Add streamed text; it reaches the Markdown at most every `STREAM_INTERVAL` s.

        Every Markdown update re-lays out and repaints the conversation (10-40 ms
        here), and a key typed meanwhile waits for it. So text is drawn in batches,
        the first words at once, and while the person types (see `TYPING_PAUSE`) only
        every `MAX_HOLD` seconds; nothing is lost.
        """
        if self._stream is None:
            self.begin_assistant()
        delta = self._budget.take(delta)
        if not delta:
            return
        self._pending.append(delta)
        if self._flush_timer is None:
            # A zero-delay timer never fires; 10 ms is "at once".
            delay = self.stream_interval if self._flushed_at is not None else 0.01
            self._flush_timer = self.set_timer(delay, self._flush_pending)

    async def _flush_pending(self, *, force: bool = False) -> None:
        self._flush_timer = None
        now = time.monotonic()
        typing = now - self._last_key < self.typing_pause
        held = self._flushed_at is not None and now - self._flushed_at < self.max_hold
        if typing and held and not force:
            self._flush_timer = self.set_timer(self.typing_pause, self._flush_pending)
            return
        text, self._pending = "".join(self._pending), []
        if not force:  # an escape sequence or `\r\n` cut by the stream waits for its end
            cut = unfinished_end(text)
            text, self._pending = text[:cut], [text[cut:]] if cut < len(text) else []
        if text and self._stream is not None:
            self._flushed_at = now
            await self._stream.write(readable(text))

    async def end_assistant(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
        await self._flush_pending(force=True)
        self._thinking = None
        stream, self._stream, self._assistant = self._stream, None, None
        if stream is not None:
            await stream.stop()
        if self._budget.hidden:
            self.add_notice(self._budget.note(), markup=False)
            self._budget = DrawBudget()

    # -- tool calls -------------------------------------------------------------

    def tool_started(self, call_id: str, name: str, arguments: str, agent_id: str = "") -> None:
        """A call began; a subagent's call (`agent_id`) goes inside that subagent's block."""
        kind = (
            ShellCallBlock
            if name == "shell"
            else EditCallBlock
            if name in EDIT_TOOLS
            else ToolCallBlock
        )
        block = kind(call_id, name, arguments)
        self._tools[_key(call_id, agent_id)] = block
        if agent_id:
            self._agent_block(agent_id).add_row(block)
        else:
            self.mount(block)

    def tool_output(self, call_id: str, delta: str, agent_id: str = "") -> None:
        block = self._tools.get(_key(call_id, agent_id))
        if block is not None:
            block.add_output(delta)

    def tool_finished(
        self,
        call_id: str,
        name: str,
        output: str,
        is_error: bool,
        duration_ms: float | None,
        *,
        diff: str | None = None,
        skipped: str = "",
        agent_id: str = "",
    ) -> None:
        """A call ended: its status, output, and for an edit the diff of that call."""
        block = self._tools.get(_key(call_id, agent_id))
        if block is None:
            self.tool_started(call_id, name, "", agent_id)
            block = self._tools[_key(call_id, agent_id)]
        block.finish(output, is_error, duration_ms, diff=diff, skipped=skipped)

    def subagent_started(self, agent_id: str, task: str, call_id: str = "") -> None:
        """A child session began: its block goes inside the `spawn_agent` call that made it."""
        block = SubagentBlock(agent_id, task)
        self._agents[agent_id] = block
        spawn = self._tools.get(call_id) if call_id else None
        if spawn is None:
            self.mount(block)
        else:
            spawn.add_nested(block)

    def subagent_finished(self, agent_id: str, success: bool, turns: int) -> None:
        block = self._agents.get(agent_id)
        if block is not None:
            block.finish(success, turns)

    def _agent_block(self, agent_id: str) -> SubagentBlock:
        """The block of the subagent `agent_id` (a grandchild's calls go under its ancestor)."""
        top = agent_id.split("/")[0]
        if top not in self._agents:
            self.subagent_started(top, "")
        return self._agents[top]

    def shell_waiting(self, call_id: str, waiting: bool) -> None:
        """Mark shell call `call_id` as waiting for approval (or not).

        A subagent's call is not in this transcript, and nothing changes.
        """
        block = self._tools.get(call_id)
        if isinstance(block, ShellCallBlock) and not block.finished:
            block.set_waiting(waiting)

    def tool_block(self, call_id: str, agent_id: str = "") -> ToolCallBlock | None:
        return self._tools.get(_key(call_id, agent_id))

    def subagent_block(self, agent_id: str) -> SubagentBlock | None:
        return self._agents.get(agent_id)


def _key(call_id: str, agent_id: str) -> str:
    # Two sessions may use the same call ids; a subagent's are kept apart.
    return f"{agent_id}:{call_id}" if agent_id else call_id


class Thinking(Static):
    """The model's thinking for one round, dimmed; grows as it streams."""

    DEFAULT_CSS = """
    Thinking { color: $text-muted; text-style: italic; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)
        self._text = ""

    def add(self, delta: str) -> None:
        self._text += readable(delta)
        # Each delta re-lays the whole block out: draw only the newest part of a long one.
        earlier = len(self._text) - MAX_DRAWN_CHARS
        if earlier > 0:
            self.update(f"… {earlier:,} earlier characters not drawn\n{self._text[earlier:]}")
        else:
            self.update(self._text)
