"""What each slash command does on the main screen (the palette runs the same code)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tiller.chat import CONTINUE_TEXT, Notice
from tiller.terminal_text import readable, visible
from tiller.tui.commands import SlashCommand
from tiller.tui.markup import escape

if TYPE_CHECKING:
    from textual.widget import Widget

    from tiller.chat import Chat
    from tiller.session import Session
    from tiller.tui.app import TillerApp
    from tiller.tui.conversation import Conversation
    from tiller.tui.screens.sessions import SessionSummary


class SlashActions:
    """What each command of the shared table does here. Expects `MainScreen`'s attributes."""

    session: Session | None
    chat: Chat | None
    running: bool
    tiller: TillerApp
    conversation: Conversation

    if TYPE_CHECKING:

        def query_one(self, selector: str) -> Widget: ...
        def notify(self, message: str, **kwargs: object) -> None: ...
        def start_run(self, text: str) -> None: ...
        def start_compaction(self, focus: str) -> None: ...
        def _adopt(self, session: Session) -> None: ...
        def _idle_or_say(self, what: str) -> bool: ...
        def action_flush(self) -> None: ...
        def action_export(self, path: str = "") -> None: ...
        def action_undo(self) -> None: ...
        def action_redo(self) -> None: ...
        def action_help(self) -> None: ...
        def tell(self, notice: Notice) -> None: ...

    def run_slash(self, command: SlashCommand, argument: str) -> None:
        """Run a slash command (from the prompt or the command palette)."""
        if command.needs_idle and not self._idle_or_say(f"/{command.name}"):
            return
        self._commands()[command.name](argument)

    def _commands(self) -> dict[str, Callable[[str], None]]:
        return {
            "help": self.command_help,
            "new": self.command_new,
            "model": self.command_model,
            "flush": self.command_flush,
            "export": self.command_export,
            "diff": self.command_diff,
            "undo": self.command_undo,
            "redo": self.command_redo,
            "skills": self.command_skills,
            "mcp": self.command_mcp,
            "sessions": self.command_sessions,
            "resume": self.command_resume,
            "cost": self.command_cost,
            "compact": self.command_compact,
            "reasoning": self.command_reasoning,
            "continue": self.command_continue,
            "quit": self.command_quit,
        }

    def command_help(self, argument: str) -> None:
        self.action_help()

    def command_flush(self, argument: str) -> None:
        self.action_flush()

    def command_export(self, argument: str) -> None:
        self.action_export(argument)

    def command_undo(self, argument: str) -> None:
        self.action_undo()

    def command_redo(self, argument: str) -> None:
        self.action_redo()

    def command_quit(self, argument: str) -> None:
        self.tiller.request_quit()

    def command_continue(self, argument: str) -> None:
        # The Continue buttons of earlier limits have done their job (button or /continue).
        for button in self.conversation.query("TurnLimitNotice Button"):
            button.remove()
        self.start_run(CONTINUE_TEXT)

    def command_diff(self, argument: str) -> None:
        from tiller.tui.diff_view import DiffView

        if self.session is None:
            return
        sidebar = self.query_one("#sidebar")
        sidebar.display = True
        diff = self.query_one("#diff")
        assert isinstance(diff, DiffView)
        diff.show(self.session.workspace, argument or None)
        # The focus stays in the prompt: Tab (on an empty prompt) or a click moves to the diff.

    def command_new(self, argument: str) -> None:
        """A fresh conversation on the same workspace (unflushed edits stay)."""
        if self.chat is None:
            return
        from tiller.tui.status_bar import StatusBar

        session = self.chat.new()
        self._adopt(session)
        status = self.query_one("#status")
        assert isinstance(status, StatusBar)
        status.round = 0
        self.conversation.add_notice(
            f"New conversation [b]{session.id}[/b]; the workspace and its changes are kept. "
            "/sessions lists the others."
        )

    def command_model(self, argument: str) -> None:
        from tiller.tui.screens.model_picker import ModelPickerScreen

        if self.session is None:
            return
        if argument:
            self._set_model(argument)
            return
        self.tiller.push_screen(
            ModelPickerScreen(self.session.model),
            callback=lambda model: self._set_model(model) if model else None,
        )

    def _set_model(self, model: str) -> None:
        from tiller.tui.status_bar import StatusBar

        if self.chat is None or self.session is None:
            return
        notices = self.chat.set_model(model)
        status = self.query_one("#status")
        assert isinstance(status, StatusBar)
        status.model = model
        status.context_percent = None
        for notice in notices:
            self.tell(notice)

    def command_reasoning(self, argument: str) -> None:
        from tiller.tui.status_bar import StatusBar

        if self.chat is None or self.session is None:
            return
        self.tell(self.chat.set_reasoning(argument))
        status = self.query_one("#status")
        assert isinstance(status, StatusBar)
        status.reasoning = self.session.reasoning_effort

    def command_skills(self, argument: str) -> None:
        if self.chat is None or self.session is None:
            return
        loadable, skipped = self.chat.skills()
        lines = [f"[b]{len(loadable)} skill(s)[/b] the agent can load:"]
        lines += [
            f"  [b]{escape(visible(name))}[/b] — {escape(readable(what))}"
            for name, what in loadable
        ]
        lines += [f"  [yellow]skipped[/yellow] {escape(readable(why))}" for why in skipped]
        self.conversation.add_notice("\n".join(lines))

    def command_mcp(self, argument: str) -> None:
        from tiller.mcp import describe_servers

        if self.session is not None:
            self.conversation.add_notice(
                "\n".join(describe_servers(self.session.mcp)), markup=False
            )

    def command_cost(self, argument: str) -> None:
        if self.chat is not None and self.session is not None:
            self.conversation.add_notice(self.chat.cost(), markup=False)

    def command_compact(self, argument: str) -> None:
        """Summarise the history now (in the worker); the marker appears when it is done."""
        self.start_compaction(argument)

    def command_sessions(self, argument: str) -> None:
        from tiller.tui.screens.sessions import SessionsScreen

        self.tiller.push_screen(
            SessionsScreen(self.session_summaries()),
            callback=lambda chosen: self.command_resume(chosen) if chosen else None,
        )

    def command_resume(self, argument: str) -> None:
        if not argument:
            self.command_sessions("")
            return
        if self.chat is None or (self.session is not None and argument == self.session.id):
            return
        if self.running:
            self.notify("The agent is working; switch after it stops (Esc interrupts).")
            return
        known = self.chat.sessions.get(argument)
        opened = self.chat.switch(argument)
        if isinstance(opened, Notice):
            self.tell(opened)
            return
        self._adopt(opened)
        if known is None:
            # A saved conversation comes with its own overlay: show its files and history.
            from tiller.tui.diff_view import DiffView
            from tiller.tui.workspace_tree import WorkspaceTree

            tree, diff = self.query_one("#tree"), self.query_one("#diff")
            assert isinstance(tree, WorkspaceTree) and isinstance(diff, DiffView)
            tree.load(opened.workspace)
            diff.show(opened.workspace, None)
            self.conversation.replay(opened.history)
        self.notify(f"Resumed {opened.id}.")

    def session_summaries(self) -> list[SessionSummary]:
        from tiller.tui.screens.sessions import SessionSummary

        if self.chat is None or self.chat.current is None:
            return []
        return [
            SessionSummary(
                s.id,
                (s.first_prompt.splitlines() or ["(empty)"])[0][:50],
                s.model,
                s.prompts,
                s.id == self.chat.current.id,
                time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated)),
                s.open,
                s.unflushed,
            )
            for s in self.chat.saved()
        ]
