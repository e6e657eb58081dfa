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
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import StdoutProxy
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from tiller.events import Event, EventKind
from tiller.formatting import format_cost, human_tokens
from tiller.repl_approvals import (
    GUARD_SECONDS,
    QUESTION,
    OutputTail,
    PendingApprovals,
    describe_request,
    parse_answer,
)

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.key_binding import KeyPressEvent

    from tiller.session import Reply, Session
    from tiller.workspace import Workspace

CONTINUE_TEXT = "Continue from where you stopped."
PREVIEW_LINES = 8


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command: `/name [argument]` and one line of help (names as in the TUI)."""

    name: str
    help: str
    argument: str = ""

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.argument}".rstrip()


COMMANDS: tuple[Command, ...] = (
    Command("help", "Show every key and command"),
    Command("new", "Start a new conversation (the workspace stays)"),
    Command("model", "Show or switch the model", "[model-id]"),
    Command("flush", "Write the changes to disk (after a confirm)"),
    Command("export", "Save the changes as a .patch file", "[path]"),
    Command("diff", "Show the diff of every change (or of one path)", "[path]"),
    Command("undo", "Undo the last turn's edits"),
    Command("redo", "Redo what undo took back"),
    Command("skills", "List the skills the agent can load"),
    Command("cost", "Tokens and cost so far"),
    Command("compact", "Summarise the conversation to free context", "[focus]"),
    Command("reasoning", "Reasoning effort: none, low, medium or high", "[effort]"),
    Command("continue", "Go on after the agent hit its round limit"),
    Command("quit", "Quit (asks when changes are unflushed)"),
)
BY_NAME = {command.name: command for command in COMMANDS}
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
BUSY_OK = {"help", "diff", "export", "skills", "cost", "quit"}
CHANGE_MARK = {"added": "A", "modified": "M", "deleted": "D"}
ARGUMENT_KEYS = ("file_path", "path", "pattern", "command", "name", "task", "agent_id")


def history_path() -> Path:
    """The REPL's input history file, under Tiller's data directory."""
    from tiller.journal import data_dir

    return data_dir() / "chat_history"


def missing_key_message(session: Session) -> str | None:
    """Why the session's model cannot be called (no API key in the environment), or None."""
    from tiller.llm import missing_key_env

    local = session.transport == "openai" and session.llm_options.get("api_base")  # no key needed
    if session.transport not in ("litellm", "openai") or local:
        return None
    variable = missing_key_env(session.model, session.llm_options)
    if variable is None:
        return None
    local = (
        " (a local server behind --api-base accepts any value)"
        if session.llm_options.get("api_base")
        else ""
    )
    return (
        f"No API key for {session.model}: set {variable} (export {variable}=...){local}, "
        "or choose another model with /model <id> or `tiller chat --model <id>`."
    )


def summarize_call(name: str, arguments: str) -> str:
    """`write_file a.py`: the tool and its most telling argument."""
    import json

    try:
        args = json.loads(arguments) if arguments else {}
    except ValueError:
        args = {}
    if isinstance(args, dict):
        for key in ARGUMENT_KEYS:
            value = args.get(key)
            if isinstance(value, str) and value:
                return f"{name} {_one_line(value, 70)}"
    return name


def _one_line(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class ReplCompleter(Completer):
    """Slash commands at the start of the line, workspace paths after `@` (and for /diff)."""

    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and not any(c.isspace() for c in before):
            prefix = before[1:].lower()
            for command in COMMANDS:
                if command.name.startswith(prefix):
                    yield Completion(
                        f"/{command.name}",
                        start_position=-len(before),
                        display=command.usage,
                        display_meta=command.help,
                    )
            return
        word = before.split()[-1] if before and not before[-1].isspace() else ""
        if word.startswith("@"):
            yield from self._paths(word[1:])
        elif before.startswith("/diff ") and " " not in before[6:]:
            yield from self._changed(before[6:])

    def _paths(self, typed: str) -> Iterable[Completion]:
        directory, _, prefix = typed.rpartition("/")
        try:
            entries = self._workspace().list_dir(directory)
        except Exception:
            return
        for entry in entries:
            if entry.startswith(prefix) and (prefix.startswith(".") or not entry.startswith(".")):
                full = f"{directory}/{entry}" if directory else entry
                yield Completion(full, start_position=-len(typed), display=entry)

    def _changed(self, typed: str) -> Iterable[Completion]:
        for path, kind in self._workspace().changes():
            if path.startswith(typed):
                yield Completion(path, start_position=-len(typed), display_meta=kind)


class Repl:
    """A read-eval-print loop over `session`.

    Args:
        session: the conversation to drive (its workspace is what /diff, /flush show).
        input: prompt-toolkit input (None: the terminal; tests pass `create_pipe_input()`).
        output: prompt-toolkit output (None: the terminal; tests pass `DummyOutput()`).
        console: where rich prints (None: standard output).
        history: the input history (None: a file under Tiller's data directory).
        new_session: builds the next session on a workspace for /new and after an
            auth error (None: same model and options, not journaled).
        journaled: sessions are journaled, so unflushed changes can be resumed.
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
        new_session: Callable[[Workspace, str], Session] | None = None,
        journaled: bool = False,
        cwd: Path | None = None,
    ) -> None:
        self.session = session
        self.console = console or Console(highlight=False)
        self.journaled = journaled
        self._new_session = new_session or self._same_options
        self._cwd = cwd
        self._input = input
        self._output = output
        if history is None:
            history = _file_history()
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
        self._thinking = ""
        self._calls: dict[str, str] = {}
        self.approvals = PendingApprovals(self._invalidate)
        # Type-ahead around approval questions: when the line in the prompt was begun,
        # and lines set aside until the question is answered.
        self._line_started: float | None = None
        self._line_began: float | None = None
        self._kept: list[str] = []
        self.prompt.default_buffer.on_text_changed += self._text_changed
        self._tails = OutputTail()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = threading.Condition()
        self.runs_finished = 0
        self._unsubscribe = session.subscribe(self._on_event)

    # -- state a test (or a status line) can look at --------------------------------

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

    def run(self, *, patch: bool = True) -> None:
        """Read and handle lines until the person quits.

        Args:
            patch: route `print` through prompt-toolkit so output never tears the prompt.
        """
        asyncio.run(self.run_async(patch=patch))

    async def run_async(self, *, patch: bool = True) -> None:
        """`run` inside an existing event loop."""
        self._loop = asyncio.get_running_loop()
        with _patched_stdout() if patch else contextlib.nullcontext():
            self._welcome()
            try:
                while not self._done:
                    await self._read_one()
            finally:
                self._stop_run()
                self._unsubscribe()
                # Ends the journal and removes the shell's sandbox copy now, not at exit.
                self.session.close()
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
        if not stripped:
            return
        if stripped.startswith("/") and not stripped.startswith("//"):
            name, _, argument = stripped[1:].partition(" ")
            command = BY_NAME.get(name.lower())
            if command is not None:
                if self.running and command.name not in BUSY_OK:
                    self._say(f"/{command.name} waits for the agent: Ctrl+C interrupts it.")
                    return
                await getattr(self, f"command_{command.name}")(argument.strip())
                return
            if " " not in stripped.split("\n")[0]:
                self._say(f"Unknown command /{name}; /help lists them.", "yellow")
                return
        if stripped.startswith("//"):
            text = text.replace("/", "", 1)
        if self.running:
            self.session.steer(text)
            self.console.print(f"[dim]↪ steering: {escape(_one_line(text, 100))}[/dim]")
            return
        self.start_run(text)

    def _answer(self, text: str) -> None:
        approval = parse_answer(text)
        if approval is None:
            self._say(QUESTION, "magenta")
            return
        if self.approvals.answer(approval):
            said = {"allow": "allowed once", "allow_session": "allowed for this session"}
            verdict = said.get(approval.decision, "denied")
            reason = f" — {approval.reason}" if approval.reason else ""
            self.console.print(f"[dim]↪ {verdict}{escape(reason)}[/dim]")

    def start_run(self, text: str) -> None:
        """Send `text` to the agent on a background thread."""
        problem = missing_key_message(self.session)
        if problem is not None:
            self._say(problem, "red")
            return
        self._cancelling = False
        self._thread = threading.Thread(
            target=self._work, args=(self.session, text), name="tiller-repl-run", daemon=True
        )
        self._thread.start()
        self._invalidate()

    def _work(self, session: Session, text: str) -> None:
        from tiller.errors import AuthError, TillerError

        reply: Reply | None = None
        try:
            reply = session.send(text)
        except AuthError as exc:
            self._auth_failed(session, exc)
        except TillerError as exc:
            self._say(f"{type(exc).__name__}: {exc}", "red")
        except Exception as exc:
            self._say(f"Unexpected error in the agent: {type(exc).__name__}: {exc}", "red")
        finally:
            self._preview = ""
        self._finished(session, reply)

    def _finished(self, session: Session, reply: Reply | None) -> None:
        leftover = session.take_queued()
        if reply is not None:
            if reply.stop_reason == "error":
                self._say(f"Provider error: {reply.error}", "red")
            elif reply.stop_reason == "turn_limit":
                self._say(
                    f"Stopped at the round limit ({session.max_turns}, --max-turns); "
                    "/continue goes on.",
                    "yellow",
                )
            elif reply.stop_reason == "cancelled":
                self._say("Interrupted.", "yellow")
        self.runs_finished += 1
        completed = reply is not None and reply.stop_reason == "completed"
        if leftover and completed and not self._done:
            # Steering typed during the final answer becomes the next prompt.
            self._thread = None
            self.start_run("\n\n".join(leftover))
        elif leftover:
            self._say("Not sent (back in the prompt): " + _one_line(" / ".join(leftover), 80))
            self._restore("\n".join(leftover))
        self._cancelling = False
        self._invalidate()
        self._notify()

    def _auth_failed(self, session: Session, error: Exception) -> None:
        from tiller.llm import provider_key_env

        variable = provider_key_env(session.model)
        hint = "" if variable is None or variable in str(error) else f" Check {variable}."
        self._say(f"{error}{hint}\nThe conversation is kept; /model <id> switches models.", "red")
        fresh = self._new_session(session.workspace, session.model)
        fresh.history = list(session.history)
        fresh.usage.add(session.usage)
        self._adopt(fresh)

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
            lines = preview.splitlines()[-PREVIEW_LINES:]
            shown = [_clip(line, width) for line in lines]
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
        session = self.session
        state = "cancelling" if self._cancelling else ("working" if self.running else "idle")
        usage = session.usage
        changes = len(session.workspace.changes())
        tokens = f"{human_tokens(usage.input_tokens)}↑ {human_tokens(usage.output_tokens)}↓"
        hint = "Enter steers · Ctrl+C interrupts" if self.running else "/help · Ctrl+D quits"
        text = (
            f" {session.model} · {state} · {tokens} {format_cost(usage.cost_usd)}"
            f" · {changes} unflushed · {hint} "
        )
        return FormattedText([("", text)])

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
        self.console.print(Text(text, style=style))

    def _welcome(self) -> None:
        session = self.session
        root = session.workspace.root
        where = f" · workspace [b]{escape(str(root))}[/b]" if root is not None else ""
        self.console.print(
            f"[b]Tiller[/b] · {escape(session.model)}{where}\n"
            "[dim]Edits stay in memory until /flush (or /export). Enter sends, "
            "Alt+Enter or a trailing \\ adds a line, /help lists commands, Ctrl+D quits.[/dim]"
        )
        if session.history:
            self._recap()
        problem = missing_key_message(session)
        if problem is not None:
            self._say(problem, "red")
        else:
            from tiller.llm import LiteLLMClient, preload_in_background

            if isinstance(session.client, LiteLLMClient):
                loading = preload_in_background()
                threading.Thread(target=_freeze_after, args=(loading,), daemon=True).start()

    def _recap(self) -> None:
        """A resumed conversation: its size, its last prompt and answer."""
        from tiller.history import AssistantTurn, UserTurn

        session = self.session
        prompts = [t for t in session.history if isinstance(t, UserTurn) and t.kind != "summary"]
        answers = [t for t in session.history if isinstance(t, AssistantTurn) and t.text]
        changes = len(session.workspace.changes())
        self._say(
            f"Resumed session {session.id}: {len(prompts)} prompt(s), "
            f"{changes} unflushed change(s).",
            "bold",
        )
        if prompts:
            self.console.print(f"[dim]› {escape(_one_line(prompts[-1].text, 90))}[/dim]")
        if answers:
            self.console.print(Markdown(answers[-1].text))

    def _goodbye(self) -> None:
        changes = self.session.workspace.changes()
        if changes and self.journaled:
            self._say(
                f"{len(changes)} unflushed change(s) are kept in session {self.session.id}: "
                f"`tiller chat --resume {self.session.id}` brings them back.",
                "yellow",
            )

    def _on_event(self, event: Event) -> None:
        kind, data = event.kind, event.data
        if kind is EventKind.ASSISTANT_REASONING_DELTA:
            self._thinking += str(data.get("delta", ""))
            return
        if self._thinking:
            # Shown whole once the round moves on: dimmed, apart from the answer.
            self.console.print(Text(self._thinking.strip(), style="dim italic"))
            self._thinking = ""
        if kind is EventKind.ASSISTANT_TEXT_DELTA:
            self._preview += str(data.get("delta", ""))
            self._invalidate()
        elif kind is EventKind.ASSISTANT_TEXT_END:
            self._preview = ""
            text = str(data.get("text", "")).strip()
            if text:
                self.console.print(Markdown(text))
            self._invalidate()
        elif kind is EventKind.TOOL_CALL_START:
            self._calls[str(data.get("call_id"))] = summarize_call(
                str(data.get("name", "")), str(data.get("arguments") or "")
            )
        elif kind is EventKind.TOOL_CALL_OUTPUT_DELTA:
            for line in self._tails.feed(str(data.get("call_id")), str(data.get("delta", ""))):
                self.console.print(f"[dim]│ {escape(line)}[/dim]")
        elif kind is EventKind.APPROVAL_REQUESTED:
            self._ask(data)
        elif kind is EventKind.TOOL_CALL_END:
            tail, hidden = self._tails.finish(str(data.get("call_id")))
            for line in tail:
                self.console.print(f"[dim]│ {escape(line)}[/dim]")
            if hidden:
                self.console.print(f"[dim]│ … {hidden} more line(s)[/dim]")
            label = self._calls.pop(str(data.get("call_id")), str(data.get("name", "")))
            if data.get("is_error"):
                first = str(data.get("output", "")).strip().splitlines() or [""]
                self.console.print(
                    f"[red]✗[/red] {escape(label)} [dim]— {escape(_one_line(first[0], 90))}[/dim]"
                )
            else:
                self.console.print(f"[green]✓[/green] {escape(label)}")
        elif kind is EventKind.STEERING_INJECTED:
            self.console.print("[dim]↪ steering delivered[/dim]")
        elif kind in (EventKind.WARNING, EventKind.LOOP_DETECTION):
            self._say(f"⚠ {data.get('message', '')}", "yellow")
        elif kind is EventKind.WORKSPACE_CHANGED:
            self._invalidate()
        elif kind is EventKind.CONTEXT_COMPACTED:
            before = human_tokens(int(data.get("tokens_before", 0)))
            after = human_tokens(int(data.get("tokens_after", 0)))
            self.console.print(f"[dim]── context compacted: {before} → {after} tokens ──[/dim]")
            self.console.print(Markdown(str(data.get("summary", ""))), style="dim")

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
        lines = describe_request(data)
        self.console.print(f"[magenta bold]? {escape(lines[0])}[/magenta bold]")
        for line in lines[1:]:
            self.console.print(f"[bold]{escape(line)}[/bold]")
        self._say(QUESTION, "magenta")
        self.approvals.add(data, future)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_later(GUARD_SECONDS, self._invalidate)
        self._notify()

    def _keep(self, text: str) -> None:
        """Set typed text aside until the open questions are answered.

        A submitted line ends in a newline; a half-typed one does not, so the keys
        typed after it continue it.
        """
        self._kept.append(text)
        self._say(
            "Kept for after the question (typed as it appeared, not an answer): "
            + _one_line(text, 60),
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
        table = Table.grid(padding=(0, 2))
        table.add_row(Text("Commands", style="bold"))
        for command in COMMANDS:
            table.add_row(Text(command.usage), Text(command.help))
        table.add_row(Text("Keys", style="bold"))
        for key, what in KEYS:
            table.add_row(Text(key), Text(what))
        table.add_row(Text("@path", style="dim"), Text("mention a workspace file (Tab completes)"))
        self.console.print(table)

    async def command_new(self, argument: str) -> None:
        old = self.session
        self._adopt(self._new_session(old.workspace, old.model))
        self._say(f"New conversation {self.session.id}; the workspace and its changes are kept.")

    async def command_model(self, argument: str) -> None:
        if not argument:
            self._say(f"Model: {self.session.model} (/model <id> switches).")
            return
        self.session.set_model(argument)
        self._say(f"Model is now {argument}.")
        problem = missing_key_message(self.session)
        if problem is not None:
            self._say(problem, "red")

    async def command_flush(self, argument: str) -> None:
        from tiller.errors import FlushConflict, WorkspaceError

        workspace = self.session.workspace
        changes = workspace.changes()
        if not changes:
            self._say("Nothing to flush: the workspace matches the disk.")
            return
        if workspace.root is None:
            self._say("This workspace has no directory to flush to; /export writes a patch.")
            return
        conflicts = set(workspace.conflicts())
        lines = [f"{len(changes)} change(s) to write under {workspace.root}:"]
        for path, kind in changes:
            note = "  [red](changed on disk since read)[/red]" if path in conflicts else ""
            lines.append(f"  {CHANGE_MARK.get(kind, '?')} {escape(path)}{note}")
        self.console.print("\n".join(lines))
        question = "Overwrite the conflicting files too? [y/N] " if conflicts else "Flush? [y/N] "
        if not await self._confirm(question):
            self._say("Nothing written.")
            return
        try:
            written = workspace.flush(force=bool(conflicts))
        except FlushConflict as exc:
            self._say(str(exc), "red")
            return
        except WorkspaceError as exc:
            self._say(f"Flush failed: {exc}", "red")
            return
        self._say(f"Wrote {len(written)} file(s).", "green")

    async def command_export(self, argument: str) -> None:
        workspace = self.session.workspace
        patch = workspace.diff()
        if not patch:
            self._say("Nothing to export: the workspace matches the disk.")
            return
        here = self._cwd or workspace.root or Path.cwd()
        if argument:
            target = Path(argument).expanduser()
            target = target if target.is_absolute() else Path(here) / target
        else:
            target = Path(here) / f"tiller-{time.strftime('%Y%m%d-%H%M%S')}.patch"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(patch, encoding="utf-8")
        except OSError as exc:
            self._say(f"Could not write the patch: {exc}", "red")
            return
        self._say(f"Exported {len(workspace.changes())} change(s) to {target} (git apply it).")
        for note in workspace.diff_notes():
            self._say(note, "yellow")

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
        self.console.print(Syntax(diff, "diff", theme="ansi_dark", background_color="default"))

    async def command_undo(self, argument: str) -> None:
        self._checkpoint_move("undo")

    async def command_redo(self, argument: str) -> None:
        self._checkpoint_move("redo")

    def _checkpoint_move(self, which: str) -> None:
        workspace = self.session.workspace
        before = dict(workspace.changes())
        if not getattr(workspace, which)():
            self._say(f"Nothing to {which}.")
            return
        after = dict(workspace.changes())
        touched = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        listed = ", ".join(touched) if touched else "no files"
        self._say(f"{which.capitalize()}: {listed}. {len(after)} unflushed change(s) now.")

    async def command_skills(self, argument: str) -> None:
        session = self.session
        lines = [f"[b]{len(session.skills)} skill(s)[/b] the agent can load:"]
        lines += [f"  [b]{escape(s.name)}[/b] — {escape(s.description)}" for s in session.skills]
        for diagnostic in session.skill_diagnostics:
            lines.append(f"  [yellow]skipped[/yellow] {escape(str(diagnostic))}")
        self.console.print("\n".join(lines))

    async def command_cost(self, argument: str) -> None:
        usage = self.session.usage
        unknown = " (the provider's price is unknown)" if usage.cost_usd is None else ""
        self._say(
            f"This conversation: {human_tokens(usage.input_tokens)} input, "
            f"{human_tokens(usage.output_tokens)} output, "
            f"{human_tokens(usage.cache_read_tokens)} cache-read and "
            f"{human_tokens(usage.cache_write_tokens)} cache-write tokens; "
            f"cost {format_cost(usage.cost_usd)}{unknown}."
        )

    async def command_compact(self, argument: str) -> None:
        """Summarise the history on the worker thread (Ctrl+C stops it, nothing changed)."""
        self._cancelling = False
        self._thread = threading.Thread(
            target=self._compact_work,
            args=(self.session, argument),
            name="tiller-repl-compact",
            daemon=True,
        )
        self._thread.start()
        self._invalidate()

    def _compact_work(self, session: Session, focus: str) -> None:
        from tiller.errors import AuthError, TillerError

        self._say("Compacting the conversation…", "dim")
        try:
            session.compact(focus or None)
        except AuthError as exc:
            self._auth_failed(session, exc)
        except TillerError as exc:
            self._say(str(exc), "yellow")
        except Exception as exc:
            self._say(f"Unexpected error while compacting: {type(exc).__name__}: {exc}", "red")
        self._finished(session, None)

    async def command_reasoning(self, argument: str) -> None:
        if argument:
            try:
                self.session.set_reasoning(argument.lower())
            except ValueError as exc:
                self._say(str(exc), "red")
                return
        effort = self.session.reasoning_effort or "the provider's default"
        self._say(f"Reasoning effort: {effort} (from the next model call).")

    async def command_continue(self, argument: str) -> None:
        self.start_run(CONTINUE_TEXT)

    async def command_quit(self, argument: str) -> None:
        await self._quit()

    async def _quit(self) -> None:
        changes = self.session.workspace.changes()
        if changes:
            question = (
                f"{len(changes)} change(s) are only in memory (/flush writes them). "
                "Quit anyway? [y/N] "
            )
            if not await self._confirm(question):
                return
        self._done = True
        self._goodbye()

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
        self.session = session
        self._unsubscribe = session.subscribe(self._on_event)
        self._invalidate()

    def _same_options(self, workspace: Workspace, model: str) -> Session:
        from tiller.session import Session

        old = self.session
        return Session(
            model,
            client=old.client,
            files=workspace,
            max_turns=old.max_turns,
            cwd=old.cwd,
            config=old.config,
            **old.llm_options,
        )


@contextlib.contextmanager
def _patched_stdout() -> Iterator[None]:
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


def _freeze_after(loading: threading.Thread) -> None:
    """Once litellm is loaded, move its ~10^6 long-lived objects out of the collector's way.

    Unfrozen, they cost a full collection mid-stream and ~1 s at exit.
    """
    loading.join()
    gc.freeze()


def _clip(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def _file_history() -> History:
    path = history_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600, exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))
