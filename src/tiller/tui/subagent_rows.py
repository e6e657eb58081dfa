"""A subagent in the conversation: its task, then its own tool calls, nested and collapsible.

It is mounted inside the `spawn_agent` call that started it (the engine's
`SUBAGENT_STARTED` names that call), and the child's tool calls (emitted by the
parent with the child's `agent_id`) are mounted inside it.
"""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Collapsible

from tiller.terminal_text import visible
from tiller.tui.markup import escape
from tiller.tui.tool_call import fit


class SubagentBlock(Collapsible):
    """One child session: open while it works, its tool rows inside; folds like any row."""

    DEFAULT_CSS = """
    SubagentBlock {
        border: none;
        border-left: outer $accent 50%;
        padding: 0;
        margin: 0 0 0 1;
        background: transparent;
        height: auto;
    }
    SubagentBlock > Contents { padding: 0; height: auto; }
    SubagentBlock CollapsibleTitle { padding: 0; color: $text-accent; text-wrap: nowrap; }
    SubagentBlock.-error CollapsibleTitle { color: $text-error; }
    """

    def __init__(self, agent_id: str, task: str) -> None:
        self.agent_id = agent_id
        self.agent_task = task
        self.status = "working…"
        self.width_seen = 0
        self._waiting: list[Widget] | None = []  # rows that came before the block was mounted
        super().__init__(title=self.heading(), collapsed=False)

    def on_mount(self) -> None:
        waiting, self._waiting = self._waiting or [], None
        if waiting:
            self.query_one(Collapsible.Contents).mount_all(waiting)

    def add_row(self, row: Widget) -> None:
        """Add one of the child's tool calls."""
        if self._waiting is not None:
            self._waiting.append(row)
        else:
            self.query_one(Collapsible.Contents).mount(row)

    def heading(self) -> str:
        """`agent_1 · task  status`, the task cut so the status always shows."""
        room = max(0, self.width_seen - 2) or 10_000
        prefix = f"{self.agent_id} · "
        task = visible(" ".join(self.agent_task.split()))
        task = fit(task, room - len(prefix) - len(self.status) - 2)
        return f"[b]{escape(visible(self.agent_id))}[/b] · {escape(task)}  {escape(self.status)}"

    def on_resize(self, event: events.Resize) -> None:
        self.width_seen = self.size.width
        self.title = self.heading()

    def finish(self, success: bool, turns: int) -> None:
        """Say how the child's run ended."""
        rounds = f"{turns} {'round' if turns == 1 else 'rounds'}"
        self.status = f"✓ done, {rounds}" if success else f"✗ stopped, {rounds}"
        self.set_class(not success, "-error")
        self.title = self.heading()
