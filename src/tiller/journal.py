"""Sessions that survive: an append-only JSONL journal per session, and restoring from it.

One file per session, `<data dir>/sessions/<id>.jsonl` (the data dir is
`platformdirs.user_data_dir("tiller")`, or `TILLER_DATA_DIR`). Each line is one
record with a `type`:

- `header`: id, model, profile, root, cwd, created, tiller version, and the
  provider options that are not secrets (never a key, token or password);
- `turn`: a history turn, complete enough to rebuild it exactly;
- `file`: one workspace path after a change: its overlay `content`, a `delta`
  against the content last journaled for it (with the result's `sha`), a
  `deleted` tombstone, `base` (no overlay entry: untouched or flushed), or
  `withheld` (the content holds a credential and is not journaled);
- `overlay`: the whole overlay (when a journal is attached or resumed), with
  the paths whose content is `withheld`;
- `event`: a lifecycle event (never text or output deltas);
- `model`: the session switched models (before the first turn on the new one);
- `resume`: the session was restored from this journal and goes on here;
- `restored`: what that resume repaired (unreadable lines already reported);
- `compact`: the whole history after a compaction (it replaces every turn before it).

Every record is one `os.write` on an `O_APPEND` descriptor, so a SIGKILL loses
at most the line being written; `load_journal` skips a torn last line. Files
are created 0600 in a 0700 directory.

Secrets (see `tiller.redaction`): the text of every record (prompts, answers,
tool calls and results, events, errors, options, URLs with credentials) is
redacted before it is encoded. File content never is: a journal that changed a
file's content would have resume flush the change, so a file whose content
holds a credential is recorded as `withheld`, and resuming drops that file's
change with a warning naming it; the file on disk stays as it is.

Big files: each content change is journaled as a delta against the content
last journaled for that path (`tiller.text_delta`), so 100 small edits of a
1 MB file cost about 1 MB, not 100 MB. Deltas were chosen over
content-addressed blobs because a blob per version still stores the whole
file on every edit; a delta is self-checking (a digest of the result), and
when it is not much smaller than the content the content is written instead.

Resume repairs what a crash leaves: an assistant turn whose tool calls never
got results (a kill mid-tool) gets an "interrupted before a result" error
result for each, so the history is valid for every provider.

Format 1 journals (whole content on every change, no `withheld`) load as before.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiller.errors import WorkspaceError
from tiller.events import Event, EventKind
from tiller.history import ToolResultsTurn, Turn
from tiller.journal_replay import (
    INTERRUPTED,
    WITHHELD_CREDENTIAL,
    JournalData,
    JournalSummary,
    repair_tool_calls,
    replay,
    summarize,
    turn_from_dict,
    turn_to_dict,
)
from tiller.json_lines import dumps_line
from tiller.model import Usage
from tiller.redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    Redactor,
    is_secret_name,
    safe_options,
    secret_values,
)
from tiller.text_delta import digest, make_delta
from tiller.workspace.paths import printable

if TYPE_CHECKING:
    from tiller.session import Session
    from tiller.workspace import Workspace

__all__ = [
    "INTERRUPTED",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Journal",
    "JournalData",
    "JournalError",
    "JournalSummary",
    "is_secret_name",
    "load_journal",
    "repair_tool_calls",
    "restore_session",
    "safe_options",
    "secret_values",
    "summarize",
    "turn_from_dict",
    "turn_to_dict",
]

FORMAT_VERSION = 2

JOURNALED_EVENTS = frozenset(
    {
        EventKind.SESSION_START,
        EventKind.SESSION_END,
        EventKind.PROCESSING_END,
        EventKind.TURN_LIMIT,
        EventKind.LOOP_DETECTION,
        EventKind.WARNING,
        EventKind.ERROR,
        EventKind.SKILL_LOADED,
        EventKind.SUBAGENT_STARTED,
        EventKind.SUBAGENT_FINISHED,
        EventKind.USAGE,
    }
)
"""Lifecycle events worth keeping; deltas, tool output and file events are elsewhere or noise."""


class JournalError(Exception):
    """No such journal, or an id that matches more than one."""


# -- where journals live ---------------------------------------------------------


def data_dir() -> Path:
    """Tiller's user data directory (`TILLER_DATA_DIR` overrides platformdirs)."""
    override = os.environ.get("TILLER_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("tiller"))


def sessions_dir() -> Path:
    """Where journals live."""
    return data_dir() / "sessions"


def journal_path(session_id: str) -> Path:
    """The journal file for a session id (which need not exist)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", session_id) or session_id.startswith("."):
        raise JournalError(f"Not a session id: {session_id!r}")
    return sessions_dir() / f"{session_id}.jsonl"


def _ensure_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)  # journals hold code and conversations: owner only


def load_journal(session_id: str) -> JournalData:
    """Replay a journal (an unambiguous id prefix is accepted).

    Raises:
        JournalError: no journal matches, or more than one does, or it has no header.
    """
    path = find_journal(session_id)
    data = replay(path)
    if data is None:
        raise JournalError(f"{path} has no header; it is not a Tiller journal")
    return data


def find_journal(session_id: str) -> Path:
    """The journal for `session_id`, or the one whose id starts with it.

    Raises:
        JournalError: none or several match.
    """
    exact = journal_path(session_id)
    if exact.is_file():
        return exact
    matches = sorted(sessions_dir().glob(f"{session_id}*.jsonl")) if sessions_dir().is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JournalError(f"No session {session_id!r} (see `tiller sessions list`)")
    names = ", ".join(m.stem for m in matches[:5])
    raise JournalError(f"Session id {session_id!r} is ambiguous: {names}")


def list_journals(root: str | Path | None = None) -> list[JournalSummary]:
    """Every journal (only those over `root` when given), most recently updated first."""
    directory = sessions_dir()
    if not directory.is_dir():
        return []
    wanted = str(Path(root).resolve()) if root is not None else None
    found = []
    for path in directory.glob("*.jsonl"):
        try:
            summary = summarize(path)
        except OSError:
            continue
        if summary is None or (wanted is not None and not _same_dir(summary.root, wanted)):
            continue
        found.append(summary)
    found.sort(key=lambda s: (s.updated, s.created), reverse=True)
    return found


def _same_dir(root: str | None, wanted: str) -> bool:
    return root is not None and (root == wanted or str(Path(root).resolve()) == wanted)


def latest_for(root: str | Path) -> JournalSummary | None:
    """The most recently updated session over `root` with a prompt in it (for `--continue`)."""
    journals = [summary for summary in list_journals(root) if summary.user_turns]
    return journals[0] if journals else None


def _in_use(path: Path) -> JournalError:
    return JournalError(
        f"Session {path.stem} is open in another Tiller process; close it there first"
    )


# One writer per journal. Across processes an exclusive `flock` on the journal's
# descriptor says so (the kernel lets go of it when a process dies, kill -9 included):
# a second Tiller refuses to resume or delete that session. Within one process the
# newest opener takes the journal over from the one before (a front end that left a
# session idle without closing it), so one process never locks itself out.
_open_here: weakref.WeakValueDictionary[str, Journal] = weakref.WeakValueDictionary()
_open_here_lock = threading.Lock()


def _lock(fd: int, path: Path) -> None:
    """Hold the journal's one-writer lock on `fd` (released when `fd` is closed).

    Two writers of one journal would interleave two histories, and two chains of
    file deltas each made against its own last content, into one file.

    Raises:
        JournalError: another process holds it (a live session there).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _in_use(path) from None
    except OSError:
        return  # a filesystem without locks: journal as before rather than not at all


def _ensure_not_open_elsewhere(path: Path) -> None:
    """Raise `JournalError` when a live session in another process holds `path`."""
    with _open_here_lock:
        if str(path) in _open_here:
            return  # this process's own: the next opener takes it over
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return  # nothing there to hold
    try:
        _lock(fd, path)
    finally:
        os.close(fd)


def delete_journal(session_id: str) -> Path:
    """Remove a journal; returns the path removed.

    Raises:
        JournalError: no such journal, an ambiguous id, or the session is open
            (in this process or another): its journal is still being written.
    """
    path = find_journal(session_id)
    with _open_here_lock:
        if str(path) in _open_here:
            raise JournalError(f"Session {path.stem} is open; close it first")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _lock(fd, path)
        path.unlink()
    finally:
        os.close(fd)
    return path


# -- writing ---------------------------------------------------------------------


class Journal:
    """Appends a session's turns, workspace changes and lifecycle events to its file.

    Use `Journal.attach(session)`; `close()` (or the session's `SESSION_END`) detaches it.

    Args:
        path: the journal file (created 0600; its directory 0700).
        secrets: values that must never reach the file; replaced by `[redacted]`
            in text, and a file whose content holds one is not journaled.
        fsync: also `fsync` after each turn (survives power loss, not just a kill).
    """

    def __init__(self, path: Path, *, secrets: list[str] | None = None, fsync: bool = True):
        self.path = path
        self._redactor = Redactor(secrets or [])
        self._fsync = fsync
        self._lock = threading.RLock()
        _ensure_dir(path.parent)
        with _open_here_lock:
            before = _open_here.pop(str(path), None)
        if before is not None:
            before.close()  # taken over: one writer per journal
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        try:
            _lock(fd, path)
        except JournalError:
            os.close(fd)
            raise
        self._fd: int | None = fd
        with _open_here_lock:
            _open_here[str(path)] = self
        self._detach: list[Callable[[], None]] = []
        self._model = ""
        # The content last journaled per path: the base of the next delta.
        self._known: dict[str, str] = {}
        # The base digest whose text was last journaled per path (sent once per base).
        self._based: dict[str, str] = {}

    @classmethod
    def attach(cls, session: Session, *, fsync: bool = True) -> Journal:
        """Journal `session` from now on; writes the header (or a `resume` record) first.

        When the session's journal already exists (a restored session), records
        are appended to it after a `resume` record; otherwise a new file starts
        with a header. The whole overlay is recorded either way, so files seeded
        before attaching are kept too.
        """
        path = journal_path(session.id)
        resuming = path.is_file() and path.stat().st_size > 0
        journal = cls(path, secrets=secret_values(session.llm_options), fsync=fsync)
        if resuming:
            journal._end_torn_line()
            journal.write({"type": "resume", "model": session.model, **_usage(session)})
        else:
            journal.write(header_record(session), raw=_header_paths(session))
            # A session that continues another's conversation (after an auth error)
            # starts its journal with every turn it already holds.
            for turn in session.history:
                journal.write_turn(turn)
        journal.write_overlay(session)
        journal._model = session.model

        def on_turn(turn: Turn) -> None:
            if session.model != journal._model:  # switched with /model: resume on the new one
                journal._model = session.model
                journal.write({"type": "model", "model": session.model})
            journal.write_turn(turn)

        def on_compacted(event: Event) -> None:
            if event.kind is EventKind.CONTEXT_COMPACTED:
                turns = [turn_to_dict(turn) for turn in session.history]
                record = {"type": "compact", "turns": turns, **_usage(session)}
                journal.write({**record, **_compaction_facts(event)}, sync=True)

        journal._detach = [
            session.on_turn(on_turn),
            session.subscribe(on_compacted),
            session.subscribe(journal.write_event),
            session.workspace.subscribe(
                lambda file, action: journal.write_file(session, file, action)
            ),
        ]
        return journal

    def _end_torn_line(self) -> None:
        """After a crash mid-line, start on a fresh line so the next record stays readable."""
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            ends_cleanly = handle.read(1) == b"\n"
        if not ends_cleanly and self._fd is not None:
            os.write(self._fd, b"\n")

    def write(
        self, record: dict[str, Any], *, raw: dict[str, Any] | None = None, sync: bool = False
    ) -> None:
        """Append one record as one line.

        Every string in `record` is redacted first (before encoding, so escaping
        cannot hide a secret); the fields in `raw` (paths, file content) are
        written exactly as given.
        """
        record.setdefault("t", time.time())
        clean = self._redactor.redact_data(record)
        if raw:
            clean.update(raw)
        data = (dumps_line(clean) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                return
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if sync and self._fsync:
                os.fsync(self._fd)

    def write_turn(self, turn: Turn) -> None:
        self.write({"type": "turn", "turn": turn_to_dict(turn)}, sync=True)

    def write_event(self, event: Event) -> None:
        if event.kind in JOURNALED_EVENTS:
            self.write({"type": "event", "event": event.to_dict()})
        if event.kind is EventKind.SESSION_END:
            self.close()

    def write_file(self, session: Session, path: str, action: str) -> None:
        """Record `path`'s overlay entry as it is now (after any write, undo, redo or flush)."""
        workspace = session.workspace
        record: dict[str, Any] = {"type": "file", "action": action}
        # Read and write under one lock: with tools running in parallel, the last
        # record for a path must describe its latest state, not a stale read.
        with self._lock:
            if self._redactor.contains_secret(path):
                # The name itself is a secret: say (redacted) that something changed there.
                self._known.pop(path, None)
                record.update(path=path, withheld=WITHHELD_CREDENTIAL)
                self.write(record)
                return
            content = workspace.files().get(path)
            raw: dict[str, Any] = {"path": path}
            if content is not None:
                raw.update(self._content_fields(path, content))
            else:
                self._known.pop(path, None)
                if (path, "deleted") in workspace.changes():
                    record["deleted"] = True
                else:
                    record["base"] = True
            if "base" not in record:
                # What the change was made on: a resume checks the disk still holds it.
                base = workspace.base_digest(path)
                if base is not None:
                    raw["base_sha"] = base
                    raw.update(self._base_fields(workspace, path, base, raw.get("content")))
            else:
                self._based.pop(path, None)
            self.write(record, raw=raw, sync=action in ("undo", "redo", "flush", "revert"))

    def _base_fields(
        self, workspace: Workspace, path: str, base: str, content: str | None
    ) -> dict[str, Any]:
        """The base's text, once per base: a resumed diff is against it, not the disk's.

        Written as a delta from the new content when that is much smaller;
        left out when the base is binary or holds a credential.
        """
        if self._based.get(path) == base:
            return {}
        text = workspace.base_text(path)
        if text is None or self._redactor.contains_secret(text):
            return {}
        self._based[path] = base
        if content is not None and len(text) > _WHOLE_BELOW:
            ops = make_delta(content, text)
            if sum(len(op) if isinstance(op, str) else 8 for op in ops) < len(text) // 2:
                return {"base_delta": ops}
        return {"base_text": text}

    def _content_fields(self, path: str, content: str) -> dict[str, Any]:
        """How to journal `path`'s new content: withheld, as a delta, or whole."""
        if self._redactor.contains_secret(content):
            self._known.pop(path, None)
            return {"withheld": WITHHELD_CREDENTIAL}
        previous = self._known.get(path)
        self._known[path] = content
        if previous is not None and len(content) > _WHOLE_BELOW:
            ops = make_delta(previous, content)
            size = sum(len(op) if isinstance(op, str) else 8 for op in ops)
            if size < len(content) // 2:
                return {"delta": ops, "sha": digest(content)}
        return {"content": content}

    def write_overlay(self, session: Session) -> None:
        with self._lock:
            secret = self._redactor.contains_secret
            files = session.workspace.files()
            deleted = sorted(p for p, kind in session.workspace.changes() if kind == "deleted")
            withheld = [p for p, text in files.items() if secret(text) or secret(p)]
            withheld += [p for p in deleted if secret(p)]
            kept = {p: text for p, text in files.items() if p not in withheld}
            gone = [p for p in deleted if not secret(p)]
            digests = {p: session.workspace.base_digest(p) for p in [*kept, *gone]}
            texts = {
                p: text
                for p in digests
                if digests[p] is not None
                and (text := session.workspace.base_text(p)) is not None
                and not secret(text)
            }
            self._known = dict(kept)
            self._based = {p: str(digests[p]) for p in texts}
            self.write(
                # Names that are secrets are redacted with the rest of the text.
                {"type": "overlay", "withheld": withheld},
                raw={
                    "files": kept,
                    "deleted": gone,
                    "bases": {p: d for p, d in digests.items() if d is not None},
                    "base_texts": texts,
                },
                sync=True,
            )

    def close(self) -> None:
        """Stop journaling and close the file (idempotent)."""
        detach, self._detach = self._detach, []
        for fn in detach:
            fn()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        with _open_here_lock:
            if _open_here.get(str(self.path)) is self:
                del _open_here[str(self.path)]


_WHOLE_BELOW = 512  # small files are written whole: a delta would save next to nothing


def _header_paths(session: Session) -> dict[str, Any]:
    """Header fields that name places on disk: written as they are, never redacted."""
    root = session.workspace.root
    return {"id": session.id, "root": str(root) if root is not None else None, "cwd": session.cwd}


def _usage(session: Session) -> dict[str, Any]:
    return {"usage": session.usage.to_dict()}


def _compaction_facts(event: Event) -> dict[str, Any]:
    names = ("reason", "tokens_before", "tokens_after", "turns_before")
    return {name: event.data[name] for name in names if name in event.data}


def header_record(session: Session) -> dict[str, Any]:
    """The first line of a journal."""
    from tiller import __version__

    root = session.workspace.root
    return {
        "type": "header",
        "format": FORMAT_VERSION,
        "id": session.id,
        "model": session.model,
        "profile": session.profile.name,
        "pinned_profile": session._profile_name,
        "root": str(root) if root is not None else None,
        "cwd": session.cwd,
        "created": time.time(),
        "tiller": __version__,
        "max_turns": session.max_turns,
        "system_prompt": session.system_prompt,
        "options": safe_options(session.llm_options),
    }


# -- restoring -------------------------------------------------------------------


def restore_session(
    session_id: str,
    *,
    journal: bool = True,
    on_warning: Callable[[str], None] | None = None,
    **overrides: Any,
) -> Session:
    """A session rebuilt from its journal: same id, history, usage and unflushed overlay.

    The workspace overlays the same root again (which must still exist). Options
    are the journal's unless overridden (`model=`, `client=`, `max_turns=`,
    `api_base=`, `api_key=` ...); keys are never in the journal, so pass them
    again or let the provider's environment variable supply them.

    What could not be restored is said, never hidden: a file whose content was
    withheld (it holds a credential) keeps its disk version, tool calls cut off
    by a crash get an error result, unreadable lines are skipped, and options
    whose credentials were redacted are left out. Each is a `WARNING` event
    (journaled) and a call to `on_warning(message)`.

    Args:
        session_id: the id (or an unambiguous prefix).
        journal: keep journaling to the same file.
        on_warning: called with each warning (a front end prints them).
        **overrides: `Session` arguments that win over the journal's.

    Raises:
        JournalError: no such journal.
        WorkspaceError: the journal's root directory is gone (pass `root=` or `files=`).
    """
    from tiller.session import Session

    data = load_journal(session_id)
    header = data.header
    options = dict(header.get("options") or {})
    redacted = sorted(
        name
        for name, value in options.items()
        if isinstance(value, str) and REDACTED in value and name not in overrides
    )
    kwargs: dict[str, Any] = {k: v for k, v in options.items() if k not in redacted}
    kwargs.update(
        model=header.get("model"),
        root=header.get("root"),
        cwd=header.get("cwd", ""),
        profile=header.get("pinned_profile"),
        max_turns=header.get("max_turns", 10),
        system_prompt=header.get("system_prompt"),
    )
    if "files" in overrides:
        kwargs.pop("root")
    kwargs.update(overrides)
    kwargs["session_id"] = data.id
    if journal:
        _ensure_not_open_elsewhere(
            journal_path(data.id)
        )  # before a session (and its servers) starts
    session = Session(**kwargs)
    refused: dict[str, str] = {}
    moved = apply_overlay(session, data.files, data.deleted, data.bases, refused, data.base_texts)
    session.history.extend(data.turns)
    session.usage = Usage(**data.usage.to_dict())
    if journal:
        try:
            attached = Journal.attach(session)
        except JournalError:  # opened elsewhere since the check above
            session.close()
            raise
        _record_repairs(attached, data)
    warnings = [*restore_warnings(data, redacted), *_moved_warnings(moved)]
    for message in [*warnings, *_refused_warnings(refused)]:
        session.emit(EventKind.WARNING, message=message, restore=True)
        if on_warning is not None:
            on_warning(message)
    return session


def _record_repairs(journal: Journal, data: JournalData) -> None:
    """Journal what this resume repaired, so the next one neither repeats it nor warns again."""
    last = data.turns[-1] if data.turns else None
    if data.interrupted and isinstance(last, ToolResultsTurn):
        # The repaired call was the last thing journaled: its error results go right after it.
        answered = {r.call_id for r in last.results if INTERRUPTED not in r.output}
        if not answered:
            journal.write_turn(last)
    journal.write({"type": "restored", "damaged": data.damaged})


def restore_warnings(data: JournalData, redacted_options: Iterable[str] = ()) -> list[str]:
    """What a resume of `data` leaves out or changes, one sentence each."""
    warnings = [
        f"{path}: its change was not restored because the file {reason}; "
        "the file on disk is untouched"
        for path, reason in sorted(data.withheld.items())
    ]
    if data.interrupted:
        warnings.append(
            f"{data.interrupted} tool call(s) were {INTERRUPTED} (the session stopped); "
            "they are marked as errors"
        )
    if data.damaged > data.reported_damaged:
        skipped = data.damaged - data.reported_damaged
        warnings.append(f"{skipped} unreadable journal line(s) were skipped")
    warnings += [
        f"option {name} held a credential that is not journaled; pass it again"
        for name in redacted_options
    ]
    return warnings


def apply_overlay(
    session: Session,
    files: dict[str, str],
    deleted: set[str],
    bases: dict[str, str] | None = None,
    skipped: dict[str, str] | None = None,
    base_texts: dict[str, str] | None = None,
) -> list[str]:
    """Put a journaled overlay onto a fresh session's workspace.

    `bases` holds the digest of the base each change was made on; a path whose
    disk file no longer has it keeps that digest pinned, so flushing over the
    newer disk content is a conflict, not a silent overwrite. `base_texts`
    (the journaled text of those bases) keeps diffs against what the change
    was made on: a patch against the newer disk content would undo the
    person's edits when applied.

    A change the disk no longer allows (its file is now a directory, or a link
    out of the root) is left out and put in `skipped` as `path -> reason`.

    Returns:
        The paths whose disk file changed since their change was made, sorted.
    """
    workspace = session.workspace
    refused = skipped if skipped is not None else {}
    for path in sorted(deleted):
        try:
            if workspace.exists(path) and not workspace.is_dir(path):
                workspace.delete(path)
        except WorkspaceError as exc:
            refused[path] = str(exc)
    for path in sorted(files):
        try:
            workspace.write(path, files[path])
        except WorkspaceError as exc:
            # The disk changed under it (now a directory, a link out of the root,
            # a FIFO, a parent turned file): one such path must not stop the resume.
            refused[path] = str(exc)
    bases = bases or {}
    texts = base_texts or {}
    return sorted(
        path
        for path in sorted(({*files, *deleted} - refused.keys()) & bases.keys())
        if workspace.pin_base(path, bases[path], texts.get(path))
    )


def _moved_warnings(paths: list[str]) -> list[str]:
    return [
        f"{printable(path)} changed on disk since this session changed it; "
        "flushing it asks first (a conflict)"
        for path in paths
    ]


def _refused_warnings(refused: dict[str, str]) -> list[str]:
    return [
        f"{printable(path)}: its change was not restored because the disk no longer allows it "
        f"({reason}); the file on disk is untouched"
        for path, reason in sorted(refused.items())
    ]
