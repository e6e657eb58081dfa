"""The controller every front end drives: what Enter means, undo, export, sessions, quitting.

The TUI, the REPL and `tiller run` each read keys, draw and run their own
worker; the decisions between those live here once. `Chat` starts no threads,
renders nothing and subscribes to nothing (a switch to a litellm model only asks
`transport.prepare` to start litellm's import): a front end calls `submit` with what
was typed, runs the session itself when told to, and hands the outcome back to
`finish`. Texts come back as `Notice`s in plain text for the front end to draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tiller.commands import Command, looks_like_command, parse_command
from tiller.formatting import format_cost, human_tokens

if TYPE_CHECKING:
    from tiller.history import UserTurn
    from tiller.session import Reply, Session
    from tiller.workspace import Workspace

Level = Literal["info", "warning", "error"]
Action = Literal["empty", "command", "unknown", "refused", "start", "steer", "follow_up"]
SessionFactory = Callable[["Workspace | None", "str | None"], "Session"]
"""Builds a session: on a shared workspace (or a fresh one) and from a saved id (or new)."""

CONTINUE_TEXT = "Continue from where you stopped."


@dataclass(frozen=True, slots=True)
class Notice:
    """A plain-text line for the person (never markup)."""

    text: str
    level: Level = "info"


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a submitted line means now.

    Attributes:
        action: `start` (run `text` in the worker), `steer`/`follow_up` (queued on
            the running session already), `command` (run `command` with `argument`),
            `refused`/`unknown` (say `notice`, put the text back), `empty`.
        text: what to send (for `start`) or what was typed.
        notice: what to tell the person, if anything.
    """

    action: Action
    text: str = ""
    command: Command | None = None
    argument: str = ""
    notice: Notice | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """What to do once a run (or a compaction) has ended.

    Attributes:
        notices: what to tell the person.
        next_prompt: steering typed during the final answer: start it as the next run.
        restore: queued text that was not delivered: back into the prompt.
        replaced: an auth error closed the session; the conversation goes on in this one.
    """

    notices: tuple[Notice, ...] = ()
    next_prompt: str | None = None
    restore: tuple[str, ...] = ()
    replaced: Session | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """What undo or redo did: the paths whose unflushed change moved, and what to say."""

    touched: tuple[str, ...]
    notice: Notice


@dataclass(frozen=True, slots=True)
class SavedSession:
    """A journaled conversation over this project (for `/sessions` and `/resume`)."""

    id: str
    updated: float
    first_prompt: str
    prompts: int
    model: str
    unflushed: int = 0
    open: bool = False


def missing_key_message(session: Session) -> str | None:
    """Why the session's model cannot be called (no API key in the environment), or None.

    Asked of the session's actual client: only Tiller's provider transports need a
    key (a scripted or custom client never does), and a server given with
    `--api-base` may take none, so then the provider's answer decides.
    """
    client = session.client
    if type(client).__module__ not in ("tiller.llm", "tiller.openai_http"):
        return None
    if session.llm_options.get("api_base"):
        return None
    from tiller.llm import missing_key_env

    variable = missing_key_env(session.model, session.llm_options)
    if variable is None:
        return None
    return (
        f"No API key for {session.model}: set {variable} (export {variable}=...), "
        "or choose another model with /model <id> or --model <id>."
    )


def sibling_factory(template: Session) -> SessionFactory:
    """Sessions like `template` (model, client, limits, options); saved ones restored on it."""

    def make(workspace: Workspace | None, resume: str | None) -> Session:
        from tiller.session import Session

        if resume is not None:
            from tiller.journal import restore_session

            return restore_session(resume, client=template.client)
        return Session(
            template.model,
            client=template.client,
            files=workspace or template.workspace,
            max_turns=template.max_turns,
            cwd=template.cwd,
            config=template.config,
            **template.llm_options,
        )

    return make


def auth_error_message(model: str, error: Exception) -> str:
    """An auth failure, said once, with what to check."""
    from tiller.llm import provider_key_env

    variable = provider_key_env(model)
    check = f"Check {variable}" if variable and variable not in str(error) else "Check the key"
    return (
        f"The provider rejected the credentials for {model}: {error}\n"
        f"{check}, or switch models with /model. The conversation is kept."
    )


@dataclass
class Chat:
    """A window's conversations over one workspace, and every decision between keys and engine.

    Args:
        make_session: builds sessions (see `SessionFactory`); sessions come back
            unjournaled, the controller journals one at its first prompt.
        journal: journal sessions so they can be resumed.
        cwd: where relative export paths are taken from (None: the workspace root).
        export_dir: where an export goes without a path (None: Tiller's data dir).
        clock: the time source for export names.
    """

    make_session: SessionFactory
    journal: bool = False
    cwd: Path | None = None
    export_dir: Path | None = None
    clock: Callable[[], float] = time.time
    sessions: dict[str, Session] = field(default_factory=dict)
    current: Session | None = None
    _journaled: set[str] = field(default_factory=set)
    _reverted: dict[str, list[str]] = field(default_factory=dict)
    _handed_back: set[str] = field(default_factory=set)
    """Sessions whose queued messages `interrupt` returned to the prompt already."""

    # -- sessions -----------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The conversation shown now."""
        assert self.current is not None, "Chat.open first"
        return self.current

    def open(self, resume: str | None = None) -> Session:
        """The first session: restored from `resume` (journaled already), else new."""
        session = self.make_session(None, resume)
        if resume is not None and self.journal:
            self._journaled.add(session.id)
        return self.adopt(session)

    def adopt(self, session: Session, *, journaled: bool = False) -> Session:
        """Make `session` current (one built elsewhere, or one of this window's).

        `journaled`: it is journaled already (a restored session).
        """
        if journaled:
            self._journaled.add(session.id)
        self.sessions[session.id] = session
        self.current = session
        return session

    def new(self) -> Session:
        """A fresh conversation on the same workspace, on the model chosen last."""
        old = self.session
        fresh = self.make_session(old.workspace, None)
        if fresh.model != old.model:
            fresh.set_model(old.model)
        return self.adopt(fresh)

    def switch(self, session_id: str) -> Session | Notice:
        """Go to one of this window's conversations, or a saved one (restored)."""
        for sid, session in self.sessions.items():
            if sid == session_id or (len(session_id) >= 4 and sid.startswith(session_id)):
                return self.adopt(session)
        from tiller.errors import WorkspaceError
        from tiller.journal import JournalError

        try:
            restored = self.make_session(None, session_id)
        except (JournalError, WorkspaceError) as exc:
            return Notice(f"Cannot open session {session_id}: {exc}", "error")
        self._journaled.add(restored.id)
        return self.adopt(restored)

    def saved(self) -> list[SavedSession]:
        """This window's conversations and the project's saved ones, newest first."""
        from tiller.journal import list_journals

        root = self.session.workspace.root
        found: dict[str, SavedSession] = {}
        for summary in list_journals(root) if root is not None else []:
            if summary.user_turns:
                found[summary.id] = SavedSession(
                    summary.id,
                    summary.updated,
                    summary.first_prompt,
                    summary.user_turns,
                    summary.model,
                    summary.unflushed,
                )
        for sid, session in self.sessions.items():
            prompts = [t.text for t in _prompts(session)]
            if prompts or session is self.current:
                first = prompts[0] if prompts else ""
                unflushed = len(session.workspace.changes())
                found[sid] = SavedSession(
                    sid, self.clock(), first, len(prompts), session.model, unflushed
                )
        listed = sorted(found.values(), key=lambda s: s.updated, reverse=True)
        return [
            SavedSession(
                s.id,
                s.updated,
                s.first_prompt,
                s.prompts,
                s.model,
                s.unflushed,
                s.id in self.sessions,
            )
            for s in listed
        ]

    def close(self) -> None:
        """Close every conversation of the window (ends journals, removes sandbox copies)."""
        for session in list(self.sessions.values()):
            session.close()

    # -- what Enter means ---------------------------------------------------------

    def submit(self, text: str, *, running: bool, mode: str = "steer") -> Submitted:
        """Decide what `text` means: a command, steering, a follow-up or a new run.

        Steering and follow-ups are queued on the running session here; a new run
        is only decided (`start`): the front end calls `begin`, then its worker sends.
        """
        stripped = text.strip()
        if not stripped:
            return Submitted("empty")
        parsed = parse_command(stripped)
        if parsed is not None:
            command, argument = parsed
            if running and command.needs_idle:
                why = f"/{command.name} waits for the agent to stop (interrupt it first)."
                return Submitted("refused", text, command, argument, Notice(why, "warning"))
            return Submitted("command", text, command, argument)
        if looks_like_command(stripped):
            name = stripped.split()[0]
            return Submitted(
                "unknown",
                text,
                notice=Notice(f"Unknown command {name}; /help lists them.", "warning"),
            )
        if text.startswith("//"):
            text = text[1:]
        if running:
            if mode == "follow_up":
                self.session.follow_up(text)
                return Submitted("follow_up", text)
            self.session.steer(text)
            return Submitted("steer", text)
        return Submitted("start", text)

    def begin(self, text: str) -> str | Notice:
        """Ready the current session to send `text`: what to send, or why it cannot go out.

        The session is journaled from its first prompt on (an empty window leaves
        no saved session behind); after an undo the model is told which files
        went back, ahead of `text`.
        """
        session = self.session
        problem = missing_key_message(session)
        if problem is not None:
            return Notice(problem, "error")
        if self.journal and session.id not in self._journaled:
            from tiller.journal import Journal, journal_path, sessions_dir

            # A restored session journals to its file already.
            if not journal_path(session.id).exists():
                try:
                    Journal.attach(session)
                except OSError as exc:  # no journal, no run: its edits would not survive a crash
                    return Notice(
                        f"Cannot keep this session's journal in {sessions_dir()}: "
                        f"{exc.strerror}; set TILLER_DATA_DIR to a directory Tiller can write",
                        "error",
                    )
            self._journaled.add(session.id)
        return self._with_undo_note(text)

    def _with_undo_note(self, text: str) -> str:
        reverted = self._reverted.pop(self.session.id, [])
        if not reverted:
            return text
        names = ", ".join(reverted)
        return (
            f"[Note from Tiller: the user undid your edits to {names}; those files are back "
            f"as they were before that turn. Read them again before editing.]\n\n{text}"
        )

    # -- a run ended --------------------------------------------------------------

    def interrupt(self) -> tuple[str, ...]:
        """Stop the current run at its next safe point; the queued messages it never took.

        The front end puts them back in the prompt at once; `finish` then says so.
        """
        session = self.session
        session.cancel()
        queued = tuple(session.take_queued())
        if queued:
            self._handed_back.add(session.id)
        return queued

    def finish(
        self,
        session: Session,
        reply: Reply | None,
        error: Exception | None,
        *,
        closing: bool = False,
    ) -> Finished:
        """What a finished `send` (or `compact`) means: notices, the next prompt, recovery."""
        from tiller.errors import AuthError, CompactionError, SessionClosed

        notices: list[Notice] = []
        replaced: Session | None = None
        if isinstance(error, AuthError):
            notices.append(Notice(auth_error_message(session.model, error), "error"))
            replaced = self._continue_elsewhere(session)
        elif isinstance(error, CompactionError):
            notices.append(Notice(str(error), "warning"))
        elif isinstance(error, SessionClosed):
            notices.append(Notice("This session was closed; /new starts another.", "error"))
        elif error is not None:
            notices.append(
                Notice(f"Unexpected error in the agent: {type(error).__name__}: {error}", "error")
            )
        leftover = tuple(session.take_queued())
        handed_back = session.id in self._handed_back or bool(leftover)
        self._handed_back.discard(session.id)
        if reply is not None:
            notices.extend(self._stop_notices(session, reply, handed_back))
        completed = reply is not None and reply.stop_reason == "completed"
        current = session is self.current or replaced is not None
        if leftover and completed and current and not closing:
            # Steering typed during the final answer: the agent gets it as the next prompt.
            return Finished(tuple(notices), "\n\n".join(leftover), (), replaced)
        return Finished(tuple(notices), None, leftover if current else (), replaced)

    def _stop_notices(self, session: Session, reply: Reply, handed_back: bool) -> list[Notice]:
        # A provider error was an `ERROR` event already: front ends show that one.
        if reply.stop_reason == "turn_limit":
            return [
                Notice(
                    f"Stopped at the round limit ({session.max_turns}, --max-turns); "
                    "/continue goes on.",
                    "warning",
                )
            ]
        if reply.stop_reason == "cancelled":
            back = " Queued messages are back in the prompt." if handed_back else ""
            return [Notice(f"Interrupted.{back}", "warning")]
        return []

    def _continue_elsewhere(self, session: Session) -> Session:
        """An auth error closed `session`: the same conversation goes on in a new one.

        The new session gets the whole history before it is journaled, so its
        journal starts with every turn (a `--resume` keeps the first prompt).
        """
        fresh = self.make_session(session.workspace, None)
        if fresh.model != session.model:
            fresh.set_model(session.model)
        fresh.replace_history(list(session.history))
        fresh.usage.add(session.usage)
        self.sessions.pop(session.id, None)
        self._journaled.discard(session.id)
        if self.journal:
            from tiller.journal import Journal

            Journal.attach(fresh)
            self._journaled.add(fresh.id)
        if session is self.current:
            self.current = fresh
        self.sessions[fresh.id] = fresh
        return fresh

    # -- the workspace ------------------------------------------------------------

    def undo(self) -> Moved:
        """Undo the last turn's edits; says which files moved (or that nothing could)."""
        return self._move("undo")

    def redo(self) -> Moved:
        """Re-apply what undo took back."""
        return self._move("redo")

    def revert(self, paths: list[str]) -> Moved:
        """Drop the unflushed changes to `paths` (review mode's per-file revert); undo restores.

        The model is told, with its next prompt, that those files went back, as
        after an undo.
        """
        busy = self._children_working("revert")
        if busy is not None:
            return Moved((), busy)
        workspace = self.session.workspace
        reverted = tuple(workspace.revert(paths))
        if not reverted:
            return Moved((), Notice("Nothing to revert: those files have no unflushed change."))
        self._note_reverted(reverted, True)
        listed = _listed(reverted)
        count = len(workspace.changes())
        text = (
            f"Reverted {listed} to the disk version ({count} unflushed change(s) now; "
            "Ctrl+Z / /undo brings the change back)."
        )
        return Moved(reverted, Notice(text))

    def _note_reverted(self, paths: tuple[str, ...], reverted: bool) -> None:
        """Remember (or forget) files the model must hear went back to an earlier state."""
        noted = self._reverted.setdefault(self.session.id, [])
        if reverted:
            noted.extend(p for p in paths if p not in noted)
        else:
            self._reverted[self.session.id] = [p for p in noted if p not in paths]

    def _children_working(self, what: str) -> Notice | None:
        """Why `what` must wait: a subagent outlived its parent's turn and still edits.

        Undo, redo and revert move whole overlay states; a child's edit made meanwhile
        would be dropped, and its next turn's checkpoint would clear the redo that
        could bring it back.
        """
        working = self.session.subagents.working()
        if not working:
            return None
        names = ", ".join(working)
        return Notice(
            f"Subagent {names} is still working on these files; {what} after it finishes.",
            "warning",
        )

    def _move(self, which: Literal["undo", "redo"]) -> Moved:
        busy = self._children_working(which)
        if busy is not None:
            return Moved((), busy)
        workspace = self.session.workspace
        before = dict(workspace.changes())
        # Undoing a revert gives the model's edits back; redoing one takes them away again.
        step = workspace.next_step(which)
        moved = workspace.undo() if which == "undo" else workspace.redo()
        if not moved:
            return Moved((), Notice(f"Nothing to {which}."))
        after = dict(workspace.changes())
        touched = tuple(
            sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        )
        if not touched:
            return Moved(
                (),
                Notice(
                    f"Nothing to {which} in the unflushed changes: that turn's edits were "
                    "already flushed to disk (or it made none); the files on disk stay "
                    "as they are.",
                    "warning",
                ),
            )
        self._note_reverted(touched, (which == "undo") != (step == "revert"))
        key = "Ctrl+Y / /redo redoes" if which == "undo" else "Ctrl+Z / /undo undoes"
        listed = _listed(touched)
        text = f"{which.capitalize()}: {listed} ({len(after)} unflushed change(s) now; {key})."
        return Moved(touched, Notice(text))

    def export(self, path: str = "") -> list[Notice]:
        """Write the patch to `path` (relative to `cwd`) or into the data dir; warns when stale."""
        workspace = self.session.workspace
        patch = workspace.diff()
        if not patch:
            return [Notice("Nothing to export: the workspace matches the disk.")]
        if path:
            target = Path(path).expanduser()
            here = self.cwd or workspace.root or Path.cwd()
            target = target if target.is_absolute() else Path(here) / target
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
            target = self._export_dir() / f"{self.session.id}-{stamp}.patch"
        if path and not patch_may_replace(target):
            return [Notice(f"{target} exists and is not a patch; export to another name", "error")]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(patch, encoding="utf-8")
        except OSError as exc:
            return [Notice(f"Could not write the patch: {exc}", "error")]
        count = len(workspace.changes())
        notices = [
            Notice(f"Exported {count} change(s) to {target}. Apply it with: git apply {target}")
        ]
        notices += [Notice(note, "warning") for note in workspace.diff_notes()]
        return notices

    def _export_dir(self) -> Path:
        if self.export_dir is not None:
            return self.export_dir
        from tiller.journal import data_dir

        return data_dir() / "patches"

    def flush_refusal(self) -> str | None:
        """Why there is nothing to flush (or nowhere to), or None."""
        workspace = self.session.workspace
        if not workspace.changes():
            return "Nothing to flush: the workspace matches the disk."
        if workspace.root is None:
            return "This workspace has no directory to flush to; /export writes a patch."
        return None

    # -- settings -------------------------------------------------------------------

    def set_model(self, model: str) -> list[Notice]:
        """Switch the current conversation's model; says so, and if its key is missing.

        A model reached through litellm starts litellm's import now, in the background,
        so the first send after the switch does not wait seconds for it.
        """
        from tiller.transport import prepare

        self.session.set_model(model)
        prepare(self.session.transport)
        problem = missing_key_message(self.session)
        notices = [Notice(f"Model is now {model}.")]
        return notices + ([Notice(problem, "error")] if problem else [])

    def set_reasoning(self, effort: str) -> Notice:
        """Set the reasoning effort (empty: only say it); an unknown effort is refused."""
        if effort:
            try:
                self.session.set_reasoning(effort.lower())
            except ValueError as exc:
                return Notice(str(exc), "error")
        shown = self.session.reasoning_effort or "the provider's default"
        how = "/reasoning none|low|medium|high"
        return Notice(f"Reasoning effort: {shown} (from the next model call; {how}).")

    # -- texts ----------------------------------------------------------------------

    def cost(self) -> str:
        usage = self.session.usage
        unknown = " (the provider's price is unknown)" if usage.cost_usd is None else ""
        return (
            f"This conversation: {human_tokens(usage.input_tokens)} input, "
            f"{human_tokens(usage.output_tokens)} output, "
            f"{human_tokens(usage.cache_read_tokens)} cache-read and "
            f"{human_tokens(usage.cache_write_tokens)} cache-write tokens; "
            f"cost {format_cost(usage.cost_usd)}{unknown}."
        )

    def skills(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(name, description) per loadable skill, and why each broken one was skipped."""
        session = self.session
        listed = [(skill.name, skill.description) for skill in session.skills]
        return listed, [str(d) for d in session.skill_diagnostics]

    def unflushed(self) -> int:
        """Changes only in memory, over every conversation of the window (one workspace)."""
        return len(self.session.workspace.changes()) if self.current is not None else 0

    def kept_where(self) -> str:
        """Where unflushed changes go when Tiller quits, and how to get them back."""
        session = self.session
        if self.journal and session.id in self._journaled:
            return (
                f"They are kept in session {session.id}: `tiller --resume {session.id}` "
                "brings them back (`tiller sessions export` writes a patch)."
            )
        if self.journal:
            return "Nothing was sent in this conversation, so it is not saved: they will be lost."
        return "This window does not save conversations: they will be lost."

    def quit_warning(self) -> str | None:
        """What quitting now would leave behind, or None when nothing is unflushed."""
        count = self.unflushed()
        if not count:
            return None
        return f"{count} change(s) are not on disk. {self.kept_where()}"


def _listed(paths: tuple[str, ...]) -> str:
    """Paths for a notice, as `terminal_text.visible` shows names (non-UTF-8 bytes as `\\xNN`)."""
    from tiller.terminal_text import visible

    return ", ".join(visible(path) for path in paths)


def _prompts(session: Session) -> list[UserTurn]:
    from tiller.history import UserTurn

    return [
        t for t in session.history if isinstance(t, UserTurn) and t.kind in ("user", "follow_up")
    ]


def patch_may_replace(target: Path) -> bool:
    """Whether an exported patch may be written to `target`: nothing there, empty, or a patch.

    A typo (`/export notes.md`) must not replace the person's own file.
    """
    try:
        with open(target, "rb") as handle:
            head = handle.read(len(b"diff --git "))
    except FileNotFoundError:
        return True
    except OSError:
        return True  # a directory or unreadable: the write fails and says so
    return head in (b"", b"diff --git ")
