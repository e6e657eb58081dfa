"""`tiller chat`: a plain-terminal REPL over a `Session` (prompt-toolkit in, rich out).

The agent runs on a background thread (the engine is synchronous) while a
prompt stays open: a line typed during a run is sent as steering. Keys:

- Enter sends; Alt+Enter (Esc then Enter) or a trailing `\\` starts a new line.
- Ctrl+C interrupts a run; a second Ctrl+C quits. Idle, Ctrl+C clears the line
  and twice on an empty line quits; Ctrl+D on an empty line quits.
- `/` completes slash commands, `@` completes workspace paths.

Assistant text streams live in a preview above the prompt and lands in the
scrollback as Markdown when the message ends; tool calls print as one line
with ✓ or ✗, shell commands with their first lines of output. A shell command
that needs approval is asked about in a line (see `repl_approvals`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.output import Output
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.text import Text

from tiller.chat import (
    CONTINUE_TEXT,
    Chat,
    Notice,
    SessionFactory,
    missing_key_message,
    sibling_factory,
)
from tiller.events import Event, EventKind
from tiller.repl_approvals import (
    GUARD_SECONDS,
    QUESTION,
    PendingApprovals,
    describe_request,
    parse_answer,
    verdict,
)
from tiller.repl_completion import ReplCompleter, file_history
from tiller.repl_output import (
    DropControls,
    EventPrinter,
    clip,
    flush_listing,
    help_table,
    one_line,
    patched_stdout,
    sessions_listing,
    skills_listing,
    toolbar_text,
    welcome_text,
)
from tiller.terminal_text import code_line, inert, readable

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyPressEvent

    from tiller.session import Reply, Session

PREVIEW_LINES = 8
PREVIEW_CHARS = 20_000
"""The end of the streamed text the preview reads its last lines from."""


STYLES = {"info": "", "warning": "yellow", "error": "red"}
# Events after which the prompt (preview, toolbar) is redrawn.
REDRAWN = (
    EventKind.ASSISTANT_TEXT_DELTA,
    EventKind.ASSISTANT_TEXT_END,
    EventKind.WORKSPACE_CHANGED,
)


class Repl:
    """A read-eval-print loop over `session`.

    Args:
        session: the conversation to drive (its workspace is what /diff, /flush show).
        input: prompt-toolkit input (None: the terminal; tests pass `create_pipe_input()`).
        output: prompt-toolkit output (None: the terminal; tests pass `DummyOutput()`).
        console: where rich prints (None: standard output).
        history: the input history (None: a file under Tiller's data directory).
        make_session: builds sessions for /new, /resume and after an auth error
            (None: same model and options, never restored).
        journaled: sessions are journaled from their first prompt (and `session`
            is journaled already when it has a history), so they can be resumed.
        cwd: the directory relative paths of /export are taken from (None: the root).
    """

    def __init__(
        self,
        session: Session,
        *,
        input: Input | None = None,
        output: Output | None = None,
        console: Console | None = None,
        history: History | None = None,
        make_session: SessionFactory | None = None,
        journaled: bool = False,
        cwd: Path | None = None,
    ) -> None:
        self.chat = Chat(make_session or sibling_factory(session), journal=journaled, cwd=cwd)
        self.chat.adopt(session, journaled=journaled and bool(session.history))
        self.console = console or Console(highlight=False)
        self.console.push_render_hook(DropControls())
        self._input = input
        self._output = output
        if history is None:
            history = file_history()
        self.prompt: PromptSession[str] = PromptSession(
            input=input,
            output=output,
            history=history,
            completer=ReplCompleter(lambda: self.session.workspace),
            complete_while_typing=True,
            key_bindings=self._key_bindings(),
            bottom_toolbar=self._toolbar,
            prompt_continuation=lambda width, line, wrap: "… ".rjust(width),
        )
        self._asker: PromptSession[str] | None = None
        self._thread: threading.Thread | None = None
        self._cancelling = False
        self._interrupts = 0
        self._done = False
        self._preview = ""
        self.printer = EventPrinter(self.console)
        self.approvals = PendingApprovals(self._approvals_changed)
        # Type-ahead around approval questions: when the line in the prompt was begun,
        # and lines set aside until the question is answered.
        self._line_started: float | None = None
        self._line_began: float | None = None
        self._kept: list[str] = []
        self.prompt.default_buffer.on_text_changed += self._text_changed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = threading.Condition()
        self.runs_finished = 0
        self._unsubscribe = session.subscribe(self._on_event)

    # -- state a test (or a status line) can look at --------------------------------

    @property
    def session(self) -> Session:
        """The conversation shown now."""
        return self.chat.session

    @property
    def running(self) -> bool:
        """Whether an agent run is in progress."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def preview(self) -> str:
        """The assistant text streamed so far in the current message (shown above the prompt)."""
        return self._preview

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds; re-checked after every line handled and run ended."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- the loop -------------------------------------------------------------------

    def run(self, *, patch: bool = True, hangup_closes: bool = False) -> None:
        """Read and handle lines until the person quits.

        Args:
            patch: route `print` through prompt-toolkit so output never tears the prompt.
            hangup_closes: a closed terminal (SIGHUP) or SIGTERM ends the chat as a quit
                does, without asking: the journal ends and the shell sandbox goes (the
                default action killed the process and left both).
        """

        async def chat() -> None:
            if hangup_closes:
                task, loop = asyncio.current_task(), asyncio.get_running_loop()
                assert task is not None
                for signum in (signal.SIGHUP, signal.SIGTERM):
                    loop.add_signal_handler(signum, hang_up, task, signum)
            await self.run_async(patch=patch)

        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(chat())

    async def run_async(self, *, patch: bool = True) -> None:
        """`run` inside an existing event loop."""
        self._loop = asyncio.get_running_loop()
        with patched_stdout() if patch else contextlib.nullcontext():
            self._welcome()
            try:
                while not self._done:
                    await self._read_one()
            finally:
                self._stop_run()
                self._unsubscribe()
                # Ends the journals and removes the shell's sandbox copies now, not at exit.
                self.chat.close()
                self._notify()

    async def _read_one(self) -> None:
        try:
            text = await self.prompt.prompt_async(self._message, default=self._take_kept())
        except KeyboardInterrupt:
            self._on_ctrl_c()
            return
        except EOFError:
            await self._quit()
            return
        finally:
            self._notify()
        self._interrupts = 0
        try:
            await self.handle(text)
        except Exception as exc:  # a failing command must not end the chat with a traceback
            self._say(f"{type(exc).__name__}: {exc}", "red")
        self._notify()

    async def handle(self, text: str) -> None:
        """One submitted line: a slash command, steering while a run goes, else a new run."""
        stripped = text.strip()
        if self.approvals:
            began, self._line_began = self._line_began, None
            if stripped and not self.approvals.may_answer(began):
                self._keep(text + "\n")
                self._say(QUESTION, "magenta")
                return
            self._answer(stripped)
            return
        submitted = self.chat.submit(text, running=self.running)
        if submitted.notice is not None:
            self._tell(submitted.notice)
        if submitted.action == "command" and submitted.command is not None:
            await self._commands[submitted.command.name](submitted.argument)
        elif submitted.action == "steer":
            self.console.print(f"[dim]↪ steering: {escape(one_line(text, 100))}[/dim]")
        elif submitted.action == "start":
            self.start_run(submitted.text)

    def _answer(self, text: str) -> None:
        approval = parse_answer(text)
        if approval is None:
            self._say(QUESTION, "magenta")
            return
        answered = self.approvals.answer(approval)
        if answered is not None:
            command = one_line(inert(str(answered.get("command", ""))), 60)
            self.console.print(Text(f"↪ {verdict(approval)}: {command}", style="dim"))
            self._show_next_question()

    def start_run(self, text: str) -> None:
        """Send `text` to the agent on a background thread."""
        ready = self.chat.begin(text)
        if isinstance(ready, Notice):
            self._tell(ready)
            return
        session = self.session
        self._spawn(session, lambda: session.send(ready))

    def _spawn(self, session: Session, job: Callable[[], Reply | None]) -> None:
        """Run `job` (a send or a compaction) on the worker thread; `_finished` follows."""
        self._cancelling = False
        self._thread = threading.Thread(target=self._work, args=(session, job), daemon=True)
        self._thread.start()
        self._invalidate()

    def _work(self, session: Session, job: Callable[[], Reply | None]) -> None:
        reply: Reply | None = None
        error: Exception | None = None
        try:
            reply = job()
        except Exception as exc:  # said by the controller's verdict, never a traceback
            error = exc
        finally:
            self._preview = ""
        self._finished(session, reply, error)

    def _finished(self, session: Session, reply: Reply | None, error: Exception | None) -> None:
        finished = self.chat.finish(session, reply, error, closing=self._done)
        for notice in finished.notices:
            self._tell(notice)
        self.runs_finished += 1
        if finished.replaced is not None:
            self._adopt(finished.replaced)
        if finished.next_prompt is not None:
            self._thread = None
            self.start_run(finished.next_prompt)
        elif finished.restore:
            self._say(
                "Not sent (back in the prompt): " + one_line(" / ".join(finished.restore), 80)
            )
            self._restore("\n".join(finished.restore))
        self._cancelling = False
        self._invalidate()
        self._notify()

    def _stop_run(self) -> None:
        if self.running:
            self.session.cancel()
            if self._thread is not None:
                self._thread.join(timeout=5)

    # -- keys -----------------------------------------------------------------------

    def _key_bindings(self) -> KeyBindings:
        bindings = KeyBindings()

        @bindings.add("escape", "enter")
        def _newline(event: KeyPressEvent) -> None:
            event.current_buffer.insert_text("\n")

        @bindings.add("enter")
        def _enter(event: KeyPressEvent) -> None:
            buffer = event.current_buffer
            if buffer.document.text_before_cursor.endswith("\\"):
                buffer.delete_before_cursor()
                buffer.insert_text("\n")
                return
            if buffer.complete_state is not None and buffer.complete_state.current_completion:
                buffer.apply_completion(buffer.complete_state.current_completion)
                return
            # `Buffer.reset` (after a line is accepted) fires no change event.
            self._line_began, self._line_started = self._line_started, None
            buffer.validate_and_handle()

        return bindings

    def _on_ctrl_c(self) -> None:
        typed = self.prompt.default_buffer.text.strip()
        if self.running:
            if self._cancelling:
                self._done = True
                self._goodbye()
                return
            self._cancelling = True
            self._interrupts = 1
            self.session.cancel()
            self._say("Interrupting… (Ctrl+C again quits)", "yellow")
            return
        if typed:
            self._interrupts = 0
            return
        self._interrupts += 1
        if self._interrupts >= 2:
            self._done = True
            self._goodbye()
        else:
            self._say("Press Ctrl+C again (or Ctrl+D) to quit.", "dim")

    # -- prompt pieces --------------------------------------------------------------

    def _message(self) -> FormattedText:
        parts: list[tuple[str, str]] = []
        preview = self._preview
        if preview:
            width = self._width()
            # The tail is enough for the last lines (a long message costs nothing per key).
            lines = readable(preview[-PREVIEW_CHARS:]).split("\n")[-PREVIEW_LINES:]
            shown = [clip(line, width) for line in lines]
            parts.append(("fg:ansibrightblack", "\n".join(shown) + "\n"))
        if self.approvals:
            armed = self.approvals.armed()
            parts.append(("fg:ansimagenta bold", "approve [y/a/n]› " if armed else "approve… "))
        elif self.running:
            parts.append(("fg:ansiyellow bold", "steer› "))
        else:
            parts.append(("fg:ansicyan bold", "› "))
        return FormattedText(parts)

    def _toolbar(self) -> FormattedText:
        state = "cancelling" if self._cancelling else ("working" if self.running else "idle")
        return FormattedText([("", toolbar_text(self.session, state, self.running))])

    def _width(self) -> int:
        try:
            return max(20, self.prompt.app.output.get_size().columns - 1)
        except Exception:
            return 79

    def _invalidate(self) -> None:
        with contextlib.suppress(Exception):
            self.prompt.app.invalidate()

    def _restore(self, text: str) -> None:
        """Put `text` back into the open prompt (from any thread)."""

        def put() -> None:
            buffer = self.prompt.default_buffer
            joined = f"{buffer.text}\n{text}" if buffer.text else text
            buffer.set_document(Document(joined), bypass_readonly=True)

        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(put)

    # -- output ---------------------------------------------------------------------

    def _say(self, text: str, style: str = "") -> None:
        self.console.print(Text(readable(text), style=style))

    def _tell(self, notice: Notice) -> None:
        self._say(notice.text, STYLES[notice.level])

    def _welcome(self) -> None:
        session = self.session
        self.console.print(welcome_text(session))
        if session.history:
            self.printer.recap(session)
        problem = missing_key_message(session)
        if problem is not None:
            self._say(problem, "red")
        elif type(session.client).__name__ == "LiteLLMClient":
            from tiller.llm import preload_in_background

            loading = preload_in_background()
            threading.Thread(target=_freeze_after, args=(loading,), daemon=True).start()
        else:
            session.warm_up()  # the lean client's pool, before the first prompt

    def _goodbye(self) -> None:
        warning = self.chat.quit_warning()
        if warning is not None:
            self._say(warning, "yellow")

    def _on_event(self, event: Event) -> None:
        kind, data = event.kind, event.data
        if kind is EventKind.ASSISTANT_TEXT_DELTA:
            self.printer.flush_thinking()
            self._preview += str(data.get("delta", ""))
        elif kind is EventKind.ASSISTANT_TEXT_END:
            self._preview = ""
            self.printer.show(event)
        elif kind is EventKind.APPROVAL_REQUESTED:
            self.printer.flush_thinking()
            self._ask(data)
            return
        else:
            self.printer.show(event)
        if kind in REDRAWN:
            self._invalidate()

    def _ask(self, data: dict[str, object]) -> None:
        future = data.get("future")
        if future is None:
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # On the prompt's loop: setting aside what is typed and opening the question
            # must not interleave with keys being handled.
            loop.call_soon_threadsafe(self._put_question, data, future)
        else:
            self._put_question(data, future)

    def _put_question(self, data: dict[str, Any], future: Future[object]) -> None:
        buffer = self.prompt.default_buffer
        if buffer.text.strip():
            self._keep(buffer.text)
        if buffer.text:
            buffer.reset()
        self._line_started = None
        if self.approvals.add(data, future):
            self._print_question(data)
        else:
            # Shown once the open one is answered: an answer must be for the question
            # printed last, never for one scrolled above a newer one.
            waiting = len(self.approvals) - 1
            self._say(f"Another approval request waits ({waiting}); it is asked next.", "dim")
        self._notify()

    def _print_question(self, data: dict[str, Any]) -> None:
        lines = describe_request(data)
        self.console.print(f"[magenta bold]? {escape(lines[0])}[/magenta bold]")
        for line in lines[1:]:
            self.console.print(f"[bold]{escape(line)}[/bold]")
        self._say(QUESTION, "magenta")
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_later(GUARD_SECONDS, self._invalidate)

    def _show_next_question(self) -> None:
        """Print the request that is next in line, if it has not been shown yet."""
        details = self.approvals.next_to_show()
        if details is not None:
            self._print_question(details)
            self._notify()

    def _approvals_changed(self) -> None:
        """A request came or went (any thread): the next in line may need showing."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._show_next_question)
        self._invalidate()

    def _keep(self, text: str) -> None:
        """Set typed text aside until the open questions are answered.

        A submitted line ends in a newline; a half-typed one does not, so the keys
        typed after it continue it.
        """
        self._kept.append(text)
        self._say(
            "Kept for after the question (typed as it appeared, not an answer): "
            + one_line(text, 60),
            "dim",
        )

    def _take_kept(self) -> str:
        if self.approvals or not self._kept:
            return ""
        kept, self._kept = self._kept, []
        return "".join(kept).rstrip("\n")

    def _text_changed(self, buffer: Buffer) -> None:
        if not buffer.text:
            self._line_started = None
        elif self._line_started is None:
            self._line_started = self.approvals.clock()
        self._notify()

    # -- slash commands -------------------------------------------------------------

    async def command_help(self, argument: str) -> None:
        self.console.print(help_table())

    async def command_new(self, argument: str) -> None:
        self._adopt(self.chat.new())
        self._say(f"New conversation {self.session.id}; the workspace and its changes are kept.")

    async def command_model(self, argument: str) -> None:
        if not argument:
            self._say(f"Model: {self.session.model} (/model <id> switches).")
            return
        for notice in self.chat.set_model(argument):
            self._tell(notice)

    async def command_flush(self, argument: str) -> None:
        from tiller.errors import FlushConflict, WorkspaceError

        refusal = self.chat.flush_refusal()
        if refusal is not None:
            self._say(refusal)
            return
        workspace = self.session.workspace
        conflicts = set(workspace.conflicts())
        self.console.print(flush_listing(workspace, conflicts))
        question = "Overwrite the conflicting files too? [y/N] " if conflicts else "Flush? [y/N] "
        if not await self._confirm(question):
            self._say("Nothing written.")
            return
        try:
            # Only the conflicts listed: a file edited on disk while asking is refused.
            written = workspace.flush(force=conflicts)
        except (FlushConflict, WorkspaceError) as exc:
            self._say(f"Flush failed: {exc}", "red")
            return
        self._say(f"Wrote {len(written)} file(s).", "green")

    async def command_export(self, argument: str) -> None:
        for notice in self.chat.export(argument):
            self._tell(notice)

    async def command_diff(self, argument: str) -> None:
        from tiller.errors import WorkspaceError

        try:
            diff = self.session.workspace.diff(argument or None)
        except WorkspaceError as exc:
            self._say(str(exc), "red")
            return
        if not diff:
            self._say("No changes" + (f" under {argument}." if argument else "."))
            return
        # Each line as it is in the file: escapes and bidi overrides shown, not obeyed.
        shown = "\n".join(code_line(line) for line in diff.split("\n"))
        self.console.print(Syntax(shown, "diff", theme="ansi_dark", background_color="default"))

    async def command_undo(self, argument: str) -> None:
        self._tell(self.chat.undo().notice)

    async def command_redo(self, argument: str) -> None:
        self._tell(self.chat.redo().notice)

    async def command_skills(self, argument: str) -> None:
        self.console.print(skills_listing(self.chat.skills()))

    async def command_mcp(self, argument: str) -> None:
        from tiller.mcp import describe_servers

        self.console.print(escape("\n".join(describe_servers(self.session.mcp))))

    async def command_cost(self, argument: str) -> None:
        self._say(self.chat.cost())

    async def command_sessions(self, argument: str) -> None:
        self.console.print(sessions_listing(self.chat.saved(), self.session.id))

    async def command_resume(self, argument: str) -> None:
        if not argument:
            await self.command_sessions("")
            return
        opened = self.chat.switch(argument)
        if isinstance(opened, Notice):
            self._tell(opened)
            return
        self._adopt(opened)
        self.printer.recap(opened)

    async def command_compact(self, argument: str) -> None:
        """Summarise the history on the worker thread (Ctrl+C stops it, nothing changed)."""
        session = self.session

        def compact() -> None:
            session.compact(argument or None)

        self._say("Compacting the conversation…", "dim")
        self._spawn(session, compact)

    async def command_reasoning(self, argument: str) -> None:
        self._tell(self.chat.set_reasoning(argument))

    async def command_continue(self, argument: str) -> None:
        self.start_run(CONTINUE_TEXT)

    async def command_quit(self, argument: str) -> None:
        await self._quit()

    async def _quit(self) -> None:
        warning = self.chat.quit_warning()
        if warning is not None and not await self._confirm(f"{warning} Quit anyway? [y/N] "):
            return
        self._done = True

    async def _confirm(self, question: str) -> bool:
        if self._asker is None:
            self._asker = PromptSession(input=self._input, output=self._output)
        try:
            answer = await self._asker.prompt_async(question)
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

    # -- sessions -------------------------------------------------------------------

    def _adopt(self, session: Session) -> None:
        self._unsubscribe()
        self.chat.adopt(session)
        self._unsubscribe = session.subscribe(self._on_event)
        self._invalidate()

    @property
    def _commands(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        """Each command of the shared table to what it does here."""
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


def hang_up(task: asyncio.Task[None], signum: int) -> None:
    """The terminal went away (or SIGTERM): end the chat (its `finally` closes it), for sure."""
    from tiller.hangup import exit_after_grace

    exit_after_grace(signum)
    task.cancel()


def _freeze_after(loading: threading.Thread) -> None:
    """Once litellm is loaded, move its ~10^6 long-lived objects out of the collector's way.

    Unfrozen, they cost a full collection mid-stream and ~1 s at exit.
    """
    loading.join()
    gc.freeze()
