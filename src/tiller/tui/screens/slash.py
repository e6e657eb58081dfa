"""What each slash command does on the main screen (the palette runs the same code)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

from tiller.formatting import format_cost, human_tokens
from tiller.tui.commands import SlashCommand

if TYPE_CHECKING:
    from textual.widget import Widget

    from tiller.session import Session
    from tiller.tui.app import TillerApp
    from tiller.tui.conversation import Conversation
    from tiller.tui.screens.sessions import SessionSummary

CONTINUE_TEXT = "Continue from where you stopped."


class SlashActions:
    """`/name [argument]` -> `command_name(argument)`. Expects `MainScreen`'s attributes."""

    session: Session | None
    sessions: dict[str, Session]
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

    def run_slash(self, command: SlashCommand, argument: str) -> None:
        """Run a slash command (from the prompt or the command palette)."""
        getattr(self, f"command_{command.name}")(argument)

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
        if self._idle_or_say("continue"):
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
        diff.focus()

    def command_new(self, argument: str) -> None:
        """A fresh conversation on the same workspace (unflushed edits stay)."""
        if not self._idle_or_say("start a new conversation") or self.session is None:
            return
        session = self.tiller.make_session(workspace=self.session.workspace)
        self._adopt(session)
        self.conversation.add_notice(
            f"New conversation [b]{session.id}[/b]; the workspace and its changes are kept. "
            "/sessions lists the others."
        )

    def command_model(self, argument: str) -> None:
        from tiller.tui.screens.model_picker import ModelPickerScreen

        if not self._idle_or_say("switch models") or self.session is None:
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

        if self.session is None:
            return
        self.session.set_model(model)
        status = self.query_one("#status")
        assert isinstance(status, StatusBar)
        status.model = model
        status.context_percent = None
        note = f"Model is now [b]{escape(model)}[/b]."
        problem = self.tiller.missing_key_message(model)
        self.conversation.add_notice(note + (f"\n{escape(problem)}" if problem else ""))

    def command_reasoning(self, argument: str) -> None:
        from tiller.tui.status_bar import StatusBar

        if self.session is None:
            return
        if argument:
            try:
                self.session.set_reasoning(argument.lower())
            except ValueError as exc:
                self.conversation.add_notice(escape(str(exc)), "error")
                return
            status = self.query_one("#status")
            assert isinstance(status, StatusBar)
            status.reasoning = self.session.reasoning_effort
        effort = self.session.reasoning_effort or "the provider's default"
        self.conversation.add_notice(
            f"Reasoning effort: [b]{escape(effort)}[/b] (from the next model call; "
            "/reasoning none|low|medium|high)."
        )

    def command_skills(self, argument: str) -> None:
        if self.session is None:
            return
        lines = [f"[b]{len(self.session.skills)} skill(s)[/b] the agent can load:"]
        lines += [
            f"  [b]{escape(skill.name)}[/b] — {escape(skill.description)}"
            for skill in self.session.skills
        ]
        for diagnostic in self.session.skill_diagnostics:
            lines.append(f"  [yellow]skipped[/yellow] {escape(str(diagnostic))}")
        self.conversation.add_notice("\n".join(lines))

    def command_mcp(self, argument: str) -> None:
        from tiller.mcp import describe_servers

        if self.session is not None:
            self.conversation.add_notice(escape("\n".join(describe_servers(self.session.mcp))))

    def command_cost(self, argument: str) -> None:
        if self.session is None:
            return
        usage = self.session.usage
        cost = format_cost(usage.cost_usd)
        unknown = " (the provider's price is unknown)" if usage.cost_usd is None else ""
        self.conversation.add_notice(
            f"This conversation: {human_tokens(usage.input_tokens)} input, "
            f"{human_tokens(usage.output_tokens)} output, "
            f"{human_tokens(usage.cache_read_tokens)} cache-read and "
            f"{human_tokens(usage.cache_write_tokens)} cache-write tokens; cost {cost}{unknown}."
        )

    def command_compact(self, argument: str) -> None:
        """Summarise the history now (in the worker); the marker appears when it is done."""
        if self._idle_or_say("compact the conversation"):
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
        if self.session is not None and argument == self.session.id:
            return
        session = self.sessions.get(argument)
        if session is None:
            self.notify(f"No session {argument!r} in this window; /sessions lists them.")
            return
        if not self._idle_or_say("switch conversations"):
            return
        self._adopt(session)
        self.notify(f"Resumed {session.id}.")

    def session_summaries(self) -> list[SessionSummary]:
        from tiller.history import UserTurn
        from tiller.tui.screens.sessions import SessionSummary

        summaries = []
        for session in self.sessions.values():
            users = [
                turn.text
                for turn in session.history
                if isinstance(turn, UserTurn) and turn.kind != "summary"
            ]
            title = users[0].splitlines()[0][:50] if users else "(empty)"
            summaries.append(
                SessionSummary(
                    session.id, title, session.model, len(users), session is self.session
                )
            )
        return summaries
