"""The main screen: it owns the sessions and the engine worker, and routes events to widgets.

The engine runs in a thread worker; its events arrive here only as
`EngineEvent` messages (posted from that thread), and each updates one widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events, on, work
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer

from tiller.tui.conversation import Conversation, UserKind
from tiller.tui.diff_view import DiffView
from tiller.tui.events_pane import EventsPane
from tiller.tui.pending import PendingMessages
from tiller.tui.prompt import Composer, Mode, Prompt
from tiller.tui.screens.actions import WorkspaceActions
from tiller.tui.screens.approval_queue import ApprovalQueue
from tiller.tui.screens.engine_events import EngineEventHandlers
from tiller.tui.screens.slash import SlashActions
from tiller.tui.status_bar import AWAITING_APPROVAL, StatusBar, shell_badge
from tiller.tui.workspace_tree import WorkspaceTree

if TYPE_CHECKING:
    from textual.widget import Widget

    from tiller.chat import Chat, Notice
    from tiller.events import Event
    from tiller.session import Reply, Session
    from tiller.tui.app import TillerApp


class MainScreen(EngineEventHandlers, WorkspaceActions, SlashActions, Screen[None]):
    """Conversation and prompt, sidebar (tree + diff), events pane, status bar, footer."""

    # Keys a text editor uses (Ctrl+A/B/E/F/K/U/W, Up/Down) belong to the prompt; the
    # screen's keys are control keys no readline motion uses, and function keys.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "interrupt", "Interrupt"),
        Binding("escape", "focus_prompt", "Prompt", show=False),
        Binding("ctrl+c", "interrupt_or_clear", "Interrupt", show=False, priority=True),
        Binding("ctrl+s", "flush", "Flush"),
        Binding("ctrl+x", "export", "Export"),
        Binding("ctrl+x", "export('')", "Export", show=False),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("ctrl+y", "redo", "Redo"),
        Binding("f2", "toggle_sidebar", "Sidebar"),
        Binding("f3", "toggle_events", "Events"),
        Binding("pageup", "scroll_conversation(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_conversation(1)", "Scroll down", show=False),
        Binding("f1", "help", "Help"),
        *WorkspaceActions.PANE_BINDINGS,
    ]

    class EngineEvent(Message):
        """An engine `Event`, posted from the worker thread."""

        def __init__(self, event: Event) -> None:
            self.event = event
            super().__init__()

    class RunFinished(Message):
        """`Session.send` returned (reply) or raised (error)."""

        def __init__(self, session_id: str, reply: Reply | None, error: Exception | None) -> None:
            self.session_id = session_id
            self.reply = reply
            self.error = error
            super().__init__()

    def __init__(self) -> None:
        super().__init__(id="main")
        self.chat: Chat | None = None
        self.conversations: dict[str, Conversation] = {}
        self.running = False
        self.change_count = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._refresh_pending = False
        self._calls_done = 0
        self.approvals = ApprovalQueue(
            self, self._approvals_waiting, lambda key: self.query_one(Prompt).type_key(key)
        )
        self._early: list[tuple[str, Mode]] = []
        """Sent before the session existed (Enter typed as the UI appeared): sent once it does."""

    @property
    def tiller(self) -> TillerApp:
        return cast("TillerApp", self.app)

    @property
    def session(self) -> Session | None:
        """The conversation shown (None while the first one is being built)."""
        return self.chat.current if self.chat is not None else None

    @property
    def sessions(self) -> dict[str, Session]:
        return self.chat.sessions if self.chat is not None else {}

    # -- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        options = self.tiller.options
        with Horizontal(id="body"):
            with Vertical(id="chat"):
                yield ContentSwitcher(id="conversations")
                yield PendingMessages()
                yield Composer()
            with Vertical(id="sidebar"):
                yield WorkspaceTree(options.root.name or str(options.root), id="tree")
                yield DiffView(id="diff")
        yield EventsPane(options.clock, id="events")
        yield StatusBar(spinning=options.animate, id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.events_pane = self.query_one(EventsPane)
        status = self.query_one(StatusBar)
        status.model = self.tiller.model_name
        status.max_turns = self.tiller.options.max_turns
        self.query_one("#tree").border_title = "workspace"
        self.query_one("#diff").border_title = "diff"
        prompt = self.query_one(Prompt)
        prompt.cursor_blink = self.tiller.options.animate
        prompt.workspace = lambda: self.session.workspace if self.session is not None else None
        prompt.focus()
        self.tiller.prompt_ready()
        # The first frame goes out before the engine is imported and built.
        self.call_after_refresh(self._start)

    def on_unmount(self) -> None:
        # A run still going would keep the process alive: stop it at its next safe point.
        for session in self.sessions.values():
            session.cancel()

    def _start(self) -> None:
        from tiller.chat import Chat

        options = self.tiller.options
        chat = Chat(
            self.tiller.make_session,
            journal=options.journal,
            cwd=options.root / options.cwd,
            export_dir=options.export_dir,
            clock=options.clock,
        )
        try:
            session = chat.open(options.resume)
            options.resume = None
        except Exception as exc:
            self.query_one(StatusBar).state = "no session"
            self.notify(
                f"Could not start a session: {exc}", severity="error", timeout=30, markup=False
            )
            self.query_one(Prompt).restore([text for text, _ in self._early])
            self._early.clear()
            return
        self.chat = chat
        self._adopt(session)
        self.query_one(WorkspaceTree).load(session.workspace)
        self.query_one(DiffView).show(session.workspace, None)
        self.query_one(StatusBar).state = "idle"
        self.conversation.add_notice(self.tiller.welcome(session))
        if session.shell_unavailable:
            self.conversation.add_notice(session.shell_unavailable, "error", markup=False)
        if session.history:
            self.conversation.replay(session.history)
            self.conversation.add_notice(f"Resumed session {session.id}.")
        for warning in self.tiller.restore_warnings:
            self.conversation.add_notice(f"Warning: {warning}", "warning", markup=False)
            self.notify(warning, severity="warning", timeout=30, markup=False)
        self.tiller.after_start()
        early, self._early = self._early, []
        if options.prompt:
            # `tiller "PROMPT"`: sent first, before anything typed while the UI appeared.
            self.prompt.prompt_history.add(options.prompt)
            early.insert(0, (options.prompt, "send"))
            options.prompt = None
        for text, mode in early:
            self.query_one(PendingMessages).take("send", text)
            self._submit(text, "steer" if self.running else mode)

    # -- focus: printable keys reach the prompt ------------------------------------

    @property
    def prompt(self) -> Prompt:
        return self.query_one(Prompt)

    def panes(self) -> list[Widget]:
        """What Tab and Shift+Tab visit: the prompt and the panes, never a tool row."""
        return [
            *self.query(Prompt),
            *self.query(Conversation),
            *self.query(WorkspaceTree),
            *self.query(DiffView),
            *self.query(EventsPane),
        ]

    @property
    def focus_chain(self) -> list[Widget]:
        panes = set(self.panes())
        return [widget for widget in super().focus_chain if widget in panes]

    def belongs_in_prompt(self, event: events.Key | events.Paste) -> bool:
        """Whether `event` must go to the prompt rather than the focused widget.

        Pasted text and printable keys do, unless the prompt has the focus already or
        a pane the person moved to (Tab, a click) has a binding for the key (`s` in the
        diff, space in the tree). Every other printable key brings the focus back to
        the prompt and is typed there.
        """
        focused = self.focused
        if isinstance(focused, Prompt):
            return False
        if self.maximized is not None and self.prompt not in self.maximized.walk_children():
            return False  # a maximised pane (review) keeps its keys: the prompt is hidden
        if isinstance(event, events.Paste):
            return True
        if not (event.is_printable and event.character):
            return False
        if focused is None or focused not in self.panes():
            return True
        for node in focused.ancestors_with_self:
            if node is self:
                break
            for binding in node._bindings.key_to_bindings.get(event.key, ()):
                _, action, parameters = parse_action(binding.action)
                if node.check_action(action, parameters) is not False:
                    return False
        return True

    def on_screen_resume(self) -> None:
        # Back from a dialog (help, flush, approval, palette): typing goes to the prompt.
        if self.is_mounted:
            self.query_one(Prompt).focus()

    def action_toggle_sidebar(self) -> None:
        super().action_toggle_sidebar()
        self._keep_focus_visible()

    def action_toggle_events(self) -> None:
        super().action_toggle_events()
        self._keep_focus_visible()

    def _keep_focus_visible(self) -> None:
        # A pane hidden with the focus in it hands the focus to the prompt.
        focused = self.focused
        if (
            focused is None
            or not focused.visible
            or not all(node.display for node in focused.ancestors_with_self if node is not self)
        ):
            self.prompt.focus()

    def action_focus_prompt(self) -> None:
        """Esc when idle: back to the prompt from any pane."""
        self.query_one(Prompt).focus()

    def action_scroll_conversation(self, pages: int) -> None:
        """Page Up/Down from the prompt scroll the conversation."""
        if self.session is None:
            return
        if pages < 0:
            self.conversation.scroll_page_up()
        else:
            self.conversation.scroll_page_down()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("focus_prompt", "scroll_conversation"):
            return True
        if action in ("undo", "redo") and self.is_mounted and self.query_one(Prompt).text:
            return False  # the prompt's own text undo has the key
        if action in ("flush", "export") and self.running and not parameters:
            # Not in the footer while the agent works (Flush waits for it anyway; Ctrl+X
            # still exports through its hidden twin): at 80 columns the footer keeps
            # Steer, Queue, Interrupt, F2, F3 and F1.
            return False
        return super().check_action(action, parameters)

    # -- sessions ---------------------------------------------------------------

    @property
    def conversation(self) -> Conversation:
        assert self.session is not None
        return self.conversations[self.session.id]

    def _adopt(self, session: Session) -> None:
        """Make `session` current, with its own conversation widget."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        assert self.chat is not None
        self.chat.adopt(session)
        switcher = self.query_one(ContentSwitcher)
        if session.id not in self.conversations:
            conversation = Conversation(id=f"conversation-{len(self.conversations) + 1}")
            self.conversations[session.id] = conversation
            switcher.mount(conversation)
        switcher.current = self.conversations[session.id].id
        self._unsubscribe = session.subscribe(
            lambda event: self.post_message(self.EngineEvent(event))
        )
        status = self.query_one(StatusBar)
        status.model, status.transport = session.model, session.transport
        config = session.config
        status.shell = shell_badge(
            config.shell, config.shell_sandbox, config.shell_network, session.shell_unavailable
        )
        total = session.usage
        status.input_tokens, status.output_tokens = total.input_tokens, total.output_tokens
        status.cost = total.cost_usd
        status.cache_read_tokens = total.cache_read_tokens
        status.reasoning = session.reasoning_effort
        self._schedule_refresh()

    # -- running the engine ------------------------------------------------------------

    def start_run(self, text: str, kind: UserKind = "user") -> None:
        """Send `text` to the agent in the worker (or say why not).

        `kind` only changes how the message is shown (steering typed during the
        final answer is sent as the next prompt).
        """
        prompt = self.query_one(Prompt)
        if self.session is None:
            self.notify("The session is still starting; try again in a moment.")
            prompt.restore([text])
            return
        assert self.chat is not None
        ready = self.chat.begin(text)
        if not isinstance(ready, str):
            self.tell(ready)
            prompt.restore([text])
            return
        self.conversation.add_user(text, kind)
        self._set_running(True)
        self._calls_done = 0
        self._run_engine(self.session, ready)

    def tell(self, notice: Notice, conversation: Conversation | None = None) -> None:
        """Show a controller's notice in `conversation` (default: the current one)."""
        target = conversation or self.conversation
        target.add_notice(notice.text, notice.level, markup=False)

    def start_compaction(self, focus: str) -> None:
        """Compact the current session's history in the worker (`/compact [focus]`)."""
        if self.session is None:
            return
        self._set_running(True)
        self.query_one(StatusBar).state = "compacting"
        self._compact_engine(self.session, focus)

    @work(thread=True, exit_on_error=False, group="engine")
    def _compact_engine(self, session: Session, focus: str) -> None:
        try:
            session.compact(focus or None)
        except Exception as exc:
            self.post_message(self.RunFinished(session.id, None, exc))
            return
        self.post_message(self.RunFinished(session.id, None, None))

    @work(thread=True, exit_on_error=False, group="engine")
    def _run_engine(self, session: Session, text: str) -> None:
        try:
            reply = session.send(text)
        except Exception as exc:
            self.post_message(self.RunFinished(session.id, None, exc))
            return
        self.post_message(self.RunFinished(session.id, reply, None))

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.query_one(Prompt).running = running
        status = self.query_one(StatusBar)
        status.state = "working" if running else "idle"
        status.round = min(self._calls_done + running, status.max_turns)
        self.refresh_bindings()

    def _approvals_waiting(self, count: int) -> None:
        status = self.query_one(StatusBar)
        if count:
            status.state = AWAITING_APPROVAL
        elif status.state == AWAITING_APPROVAL:
            status.state = "working" if self.running else "idle"

    @on(ApprovalQueue.Settled)
    def _approval_settled(self, message: ApprovalQueue.Settled) -> None:
        self.approvals.settled(message.request)
        if self.session is not None and not message.request.details.get("agent_id"):
            call_id = str(message.request.details.get("call_id", ""))
            self.conversation.shell_waiting(call_id, False)

    def action_interrupt_or_clear(self) -> None:
        """Ctrl+C: interrupt a run; idle, clear the prompt (quitting is Ctrl+Q / Ctrl+D)."""
        if self.running:
            self.action_interrupt()
        else:
            self.query_one(Prompt).clear()

    def action_interrupt(self) -> None:
        """Esc: stop the run at the next safe point; queued text returns to the prompt."""
        if self.chat is None or self.session is None or not self.running:
            return
        queued = list(self.chat.interrupt())
        self.query_one(PendingMessages).clear_all()
        self.query_one(Prompt).restore(queued)
        self.query_one(StatusBar).state = "stopping"

    @on(Prompt.Submitted)
    def _submitted(self, message: Prompt.Submitted) -> None:
        if self.chat is None or self.session is None:
            # Typed as the UI appeared: sent as soon as the session is built.
            self.query_one(PendingMessages).add("send", message.text)
            self._early.append((message.text, message.mode))
            return
        self._submit(message.text, message.mode)

    def _submit(self, text: str, mode: Mode) -> None:
        assert self.chat is not None
        message = Prompt.Submitted(text, mode)
        submitted = self.chat.submit(message.text, running=self.running, mode=message.mode)
        if submitted.action == "command" and submitted.command is not None:
            self.run_slash(submitted.command, submitted.argument)
        elif submitted.action in ("unknown", "refused"):
            if submitted.notice is not None:
                self.notify(submitted.notice.text, severity="warning", markup=False)
            self.query_one(Prompt).restore([message.text])
        elif submitted.action in ("steer", "follow_up"):
            kind = "steering" if submitted.action == "steer" else "follow_up"
            self.query_one(PendingMessages).add(kind, submitted.text)
        elif submitted.action == "start":
            self.start_run(submitted.text)

    @on(RunFinished)
    def _run_finished(self, message: RunFinished) -> None:
        session = self.sessions.get(message.session_id)
        if session is None or self.chat is None:
            return
        current = session is self.session
        if current:
            self._set_running(False)
        finished = self.chat.finish(session, message.reply, message.error)
        conversation = self.conversations[session.id]
        for notice in finished.notices:
            self.tell(notice, conversation)
        self.query_one(PendingMessages).clear_all()
        if finished.replaced is not None:
            self.conversations[finished.replaced.id] = self.conversations.pop(session.id)
            if current:
                self._adopt(finished.replaced)
        if finished.next_prompt is not None:
            self.start_run(finished.next_prompt, "steering")
        elif current:
            self.query_one(Prompt).restore(list(finished.restore))
        self._schedule_refresh()

    # -- engine events ------------------------------------------------------------

    @on(EngineEvent)
    async def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if self.session is None or event.session_id != self.session.id:
            return
        self.events_pane.add(event)
        await self.drop_loading_notice(event.kind)
        handler = self.handlers().get(event.kind)
        if handler is not None:
            await handler(event.data)

    # -- the sidebar and the status bar ---------------------------------------------------

    def _schedule_refresh(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self.call_later(self._refresh_workspace)

    def _refresh_workspace(self) -> None:
        """Re-read changes into the tree, the diff and the status bar (coalesced)."""
        self._refresh_pending = False
        if self.session is None:
            return
        workspace = self.session.workspace
        self.change_count = len(workspace.changes())
        self.query_one(StatusBar).changes = self.change_count
        if self.query_one("#sidebar").display:
            self.query_one(WorkspaceTree).refresh_changes()
            self.query_one(DiffView).refresh_diff()
        self.refresh_bindings()

    @on(WorkspaceTree.FileSelected)
    def _file_selected(self, message: WorkspaceTree.FileSelected) -> None:
        if self.session is not None:
            self.query_one(DiffView).show(self.session.workspace, message.path)

    @on(Conversation.ContinueRequested)
    def _continue(self) -> None:
        self.command_continue("")
