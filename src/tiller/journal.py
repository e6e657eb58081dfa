"""Sessions that survive: an append-only JSONL journal per session, and restoring from it.

One file per session, `<data dir>/sessions/<id>.jsonl` (the data dir is
`platformdirs.user_data_dir("tiller")`, or `TILLER_DATA_DIR`). Each line is one
record with a `type`:

- `header`: id, model, profile, root, cwd, created, tiller version, and the
  provider options that are not secrets (never a key, token or password);
- `turn`: a history turn, complete enough to rebuild it exactly;
- `file`: one workspace path after a change: its overlay `content`, a
  `deleted` tombstone, or `base` (no overlay entry: untouched or flushed);
- `overlay`: the whole overlay (when a journal is attached or resumed);
- `event`: a lifecycle event (never text or output deltas);
- `model`: the session switched models (before the first turn on the new one);
- `resume`: the session was restored from this journal and goes on here.

Every record is one `os.write` on an `O_APPEND` descriptor, so a SIGKILL loses
at most the line being written; `load_journal` skips a torn last line. Files
are created 0600 in a 0700 directory. Known secret values (the session's
`api_key`-like options and provider keys in the environment) are redacted from
every line before it is written.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiller.events import Event, EventKind
from tiller.history import AssistantTurn, ToolResultsTurn, Turn, UserTurn
from tiller.model import ToolCall, Usage
from tiller.tools.registry import ToolResult

if TYPE_CHECKING:
    from tiller.session import Session

FORMAT_VERSION = 1
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8

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

_SECRET_WORDS = frozenset(
    {"key", "apikey", "token", "secret", "password", "passwd", "auth", "authorization"}
)
_SECRET_WORDS |= {"credential", "credentials", "headers", "cookie"}


class JournalError(Exception):
    """No such journal, or an id that matches more than one."""


def is_secret_name(name: str) -> bool:
    """Whether an option or variable name looks like it holds a secret (`api_key`, `X_TOKEN`)."""
    words = re.split(r"[^a-z0-9]+", name.lower())
    return any(word in _SECRET_WORDS for word in words)


def safe_options(options: dict[str, Any]) -> dict[str, Any]:
    """Provider options without anything secret-looking, and only plain JSON values."""
    return {
        name: value
        for name, value in options.items()
        if not is_secret_name(name) and isinstance(value, str | int | float | bool | type(None))
    }


def secret_values(options: dict[str, Any] | None = None) -> list[str]:
    """Secret values to redact: secret-named options and environment variables."""
    values = [
        str(value)
        for name, value in (options or {}).items()
        if is_secret_name(name) and isinstance(value, str)
    ]
    values += [value for name, value in os.environ.items() if is_secret_name(name)]
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


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


# -- records ---------------------------------------------------------------------


def turn_to_dict(turn: Turn) -> dict[str, Any]:
    """A turn as plain data (`turn_from_dict` inverts it exactly)."""
    if isinstance(turn, UserTurn):
        return {"role": "user", "text": turn.text, "kind": turn.kind}
    if isinstance(turn, AssistantTurn):
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
        data = {"role": "assistant", "text": turn.text, "tool_calls": calls}
        if turn.thinking_blocks:
            data["thinking_blocks"] = [dict(block) for block in turn.thinking_blocks]
        return data
    results = []
    for r in turn.results:
        item: dict[str, Any] = {"call_id": r.call_id, "name": r.name, "output": r.output}
        if r.model_output != r.output:
            item["model_output"] = r.model_output
        item["is_error"] = r.is_error
        results.append(item)
    return {"role": "tool_results", "results": results}


def turn_from_dict(data: dict[str, Any]) -> Turn:
    """The turn `turn_to_dict` wrote."""
    role = data["role"]
    if role == "user":
        return UserTurn(data["text"], data.get("kind", "user"))
    if role == "assistant":
        calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in data["tool_calls"])
        thinking = tuple(dict(block) for block in data.get("thinking_blocks", ()))
        return AssistantTurn(data["text"], calls, thinking)
    if role == "tool_results":
        return ToolResultsTurn(
            tuple(
                ToolResult(
                    call_id=r["call_id"],
                    name=r["name"],
                    output=r["output"],
                    model_output=r.get("model_output", r["output"]),
                    is_error=r.get("is_error", False),
                )
                for r in data["results"]
            )
        )
    raise ValueError(f"unknown turn role {role!r}")


@dataclass
class JournalData:
    """What a journal holds, replayed.

    Attributes:
        id: the session id.
        path: the journal file.
        header: the header record (model, profile, root, cwd, created, version, options).
        turns: the history, in order.
        files: the overlay's contents at the end.
        deleted: the overlay's tombstones at the end.
        usage: the session's total usage at the end.
        events: the journaled lifecycle events, as dicts.
        damaged: lines that could not be read (a torn last line after a crash).
        updated: the time of the last record (seconds since the epoch).
    """

    id: str
    path: Path
    header: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    usage: Usage = field(default_factory=Usage)
    events: list[dict[str, Any]] = field(default_factory=list)
    damaged: int = 0
    updated: float = 0.0

    @property
    def first_prompt(self) -> str:
        """The first thing the person typed ('' when nothing yet)."""
        return next((t.text for t in self.turns if isinstance(t, UserTurn)), "")

    @property
    def root(self) -> str | None:
        return self.header.get("root")

    @property
    def model(self) -> str:
        return str(self.header.get("model", ""))

    @property
    def created(self) -> float:
        return float(self.header.get("created", 0.0))


def _read_records(path: Path) -> Iterator[dict[str, Any] | None]:
    """Each line's record; None for a line that does not parse."""
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                yield None
                continue
            yield record if isinstance(record, dict) else None


def load_journal(session_id: str) -> JournalData:
    """Replay a journal (an unambiguous id prefix is accepted).

    Raises:
        JournalError: no journal matches, or more than one does, or it has no header.
    """
    path = find_journal(session_id)
    data: JournalData | None = None
    damaged = 0
    for record in _read_records(path):
        if record is None:
            damaged += 1
            continue
        kind = record.get("type")
        if kind == "header":
            if data is None:
                data = JournalData(id=str(record["id"]), path=path, header=record)
            continue
        if data is None:
            damaged += 1
            continue
        data.updated = max(data.updated, float(record.get("t", 0.0)))
        try:
            _apply(data, kind, record)
        except (KeyError, TypeError, ValueError):
            damaged += 1
    if data is None:
        raise JournalError(f"{path} has no header; it is not a Tiller journal")
    data.damaged = damaged
    data.updated = data.updated or data.created
    return data


def _apply(data: JournalData, kind: Any, record: dict[str, Any]) -> None:
    if kind == "turn":
        data.turns.append(turn_from_dict(record["turn"]))
    elif kind == "file":
        path = record["path"]
        data.files.pop(path, None)
        data.deleted.discard(path)
        if "content" in record:
            data.files[path] = record["content"]
        elif record.get("deleted"):
            data.deleted.add(path)
    elif kind == "overlay":
        data.files = dict(record["files"])
        data.deleted = set(record["deleted"])
    elif kind == "event":
        data.events.append(record["event"])
        event = record["event"]
        if event.get("kind") == EventKind.USAGE.value and "total" in event.get("data", {}):
            data.usage = Usage(**event["data"]["total"])
    elif kind == "model":
        data.header["model"] = record["model"]
    elif kind == "resume":
        data.header["model"] = record.get("model", data.header.get("model"))
        data.usage = Usage(**record.get("usage", {})) if "usage" in record else data.usage


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


@dataclass(frozen=True)
class JournalSummary:
    """One line of `tiller sessions list`."""

    id: str
    path: Path
    created: float
    updated: float
    model: str
    root: str | None
    first_prompt: str
    turns: int
    user_turns: int


def summarize(path: Path) -> JournalSummary | None:
    """A summary of one journal file without rebuilding its turns; None if not a journal."""
    header: dict[str, Any] | None = None
    model = ""
    turns = users = 0
    first = ""
    updated = 0.0
    for record in _read_records(path):
        if record is None:
            continue
        if record.get("type") == "header":
            header = header or record
            continue
        updated = max(updated, float(record.get("t", 0.0)))
        if record.get("type") in ("model", "resume") and "model" in record:
            model = str(record["model"])
        if record.get("type") == "turn":
            turns += 1
            turn = record.get("turn", {})
            if turn.get("role") == "user" and turn.get("kind", "user") in ("user", "follow_up"):
                users += 1
                first = first or str(turn.get("text", ""))
    if header is None:
        return None
    created = float(header.get("created", 0.0))
    return JournalSummary(
        id=str(header.get("id", path.stem)),
        path=path,
        created=created,
        updated=updated or created,
        model=model or str(header.get("model", "")),
        root=header.get("root"),
        first_prompt=first,
        turns=turns,
        user_turns=users,
    )


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
    """The most recently updated session over `root` (for `--continue`)."""
    journals = list_journals(root)
    return journals[0] if journals else None


def delete_journal(session_id: str) -> Path:
    """Remove a journal; returns the path removed.

    Raises:
        JournalError: no such journal, or an ambiguous id.
    """
    path = find_journal(session_id)
    path.unlink()
    return path


# -- writing ---------------------------------------------------------------------


class Journal:
    """Appends a session's turns, workspace changes and lifecycle events to its file.

    Use `Journal.attach(session)`; `close()` (or the session's `SESSION_END`) detaches it.

    Args:
        path: the journal file (created 0600; its directory 0700).
        secrets: values that must never reach the file; replaced by `[redacted]`.
        fsync: also `fsync` after each turn (survives power loss, not just a kill).
    """

    def __init__(self, path: Path, *, secrets: list[str] | None = None, fsync: bool = True):
        self.path = path
        self._secrets = list(secrets or [])
        self._fsync = fsync
        self._lock = threading.RLock()
        _ensure_dir(path.parent)
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        self._detach: list[Callable[[], None]] = []
        self._model = ""

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
            journal.write(header_record(session))
        journal.write_overlay(session)
        journal._model = session.model

        def on_turn(turn: Turn) -> None:
            if session.model != journal._model:  # switched with /model: resume on the new one
                journal._model = session.model
                journal.write({"type": "model", "model": session.model})
            journal.write_turn(turn)

        journal._detach = [
            session.on_turn(on_turn),
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

    def write(self, record: dict[str, Any], *, sync: bool = False) -> None:
        """Append one record as one line (secrets redacted)."""
        record.setdefault("t", time.time())
        line = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":"))
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        data = (line + "\n").encode("utf-8")
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
        record: dict[str, Any] = {"type": "file", "path": path, "action": action}
        # Read and write under one lock: with tools running in parallel, the last
        # record for a path must describe its latest state, not a stale read.
        with self._lock:
            content = workspace.files().get(path)
            if content is not None:
                record["content"] = content
            elif (path, "deleted") in workspace.changes():
                record["deleted"] = True
            else:
                record["base"] = True
            self.write(record, sync=action in ("undo", "redo", "flush"))

    def write_overlay(self, session: Session) -> None:
        with self._lock:
            files = session.workspace.files()
            deleted = sorted(p for p, kind in session.workspace.changes() if kind == "deleted")
            self.write({"type": "overlay", "files": files, "deleted": deleted}, sync=True)

    def close(self) -> None:
        """Stop journaling and close the file (idempotent)."""
        detach, self._detach = self._detach, []
        for fn in detach:
            fn()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _usage(session: Session) -> dict[str, Any]:
    return {"usage": session.usage.to_dict()}


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


def restore_session(session_id: str, *, journal: bool = True, **overrides: Any) -> Session:
    """A session rebuilt from its journal: same id, history, usage and unflushed overlay.

    The workspace overlays the same root again (which must still exist). Options
    are the journal's unless overridden (`model=`, `client=`, `max_turns=`,
    `api_base=`, `api_key=` ...); keys are never in the journal, so pass them
    again or let the provider's environment variable supply them.

    Args:
        session_id: the id (or an unambiguous prefix).
        journal: keep journaling to the same file.
        **overrides: `Session` arguments that win over the journal's.

    Raises:
        JournalError: no such journal.
        WorkspaceError: the journal's root directory is gone (pass `root=` or `files=`).
    """
    from tiller.session import Session

    data = load_journal(session_id)
    header = data.header
    kwargs: dict[str, Any] = dict(header.get("options") or {})
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
    session = Session(**kwargs)
    apply_overlay(session, data.files, data.deleted)
    session.history.extend(data.turns)
    session.usage = Usage(**data.usage.to_dict())
    if journal:
        Journal.attach(session)
    return session


def apply_overlay(session: Session, files: dict[str, str], deleted: set[str]) -> None:
    """Put a journaled overlay onto a fresh session's workspace."""
    workspace = session.workspace
    for path in sorted(deleted):
        if workspace.exists(path) and not workspace.is_dir(path):
            workspace.delete(path)
    for path in sorted(files):
        workspace.write(path, files[path])
