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
- `resume`: the session was restored from this journal and goes on here.

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

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiller.events import Event, EventKind
from tiller.history import AssistantTurn, ToolResultsTurn, Turn, UserTurn
from tiller.json_lines import dumps_line
from tiller.model import ToolCall, Usage
from tiller.redaction import (
    MIN_SECRET_LENGTH,
    REDACTED,
    Redactor,
    is_secret_name,
    safe_options,
    secret_values,
)
from tiller.text_delta import apply_delta, digest, make_delta
from tiller.tools.registry import ToolResult

if TYPE_CHECKING:
    from tiller.session import Session

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Journal",
    "JournalData",
    "JournalError",
    "is_secret_name",
    "load_journal",
    "restore_session",
    "safe_options",
    "secret_values",
]

FORMAT_VERSION = 2
INTERRUPTED = "interrupted before a result"
WITHHELD_CREDENTIAL = "holds a credential"

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


# -- records ---------------------------------------------------------------------


def turn_to_dict(turn: Turn) -> dict[str, Any]:
    """A turn as plain data (`turn_from_dict` inverts it exactly)."""
    if isinstance(turn, UserTurn):
        return {"role": "user", "text": turn.text, "kind": turn.kind}
    if isinstance(turn, AssistantTurn):
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
        return {"role": "assistant", "text": turn.text, "tool_calls": calls}
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
        return AssistantTurn(data["text"], calls)
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
        withheld: paths whose latest content is not in the journal, and why
            (it holds a credential, or its record could not be read back).
        interrupted: tool calls that never got a result (a crash mid-tool);
            `turns` holds an "interrupted before a result" error result for each.
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
    withheld: dict[str, str] = field(default_factory=dict)
    interrupted: int = 0

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
    data.turns, data.interrupted = repair_tool_calls(data.turns)
    return data


def _apply(data: JournalData, kind: Any, record: dict[str, Any]) -> None:
    if kind == "turn":
        data.turns.append(turn_from_dict(record["turn"]))
    elif kind == "file":
        _apply_file(data, record)
    elif kind == "overlay":
        data.files = {str(k): str(v) for k, v in record["files"].items()}
        data.deleted = set(record["deleted"])
        data.withheld = {str(p): WITHHELD_CREDENTIAL for p in record.get("withheld", ())}
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


def _apply_file(data: JournalData, record: dict[str, Any]) -> None:
    path = str(record["path"])
    previous = data.files.pop(path, None)
    data.deleted.discard(path)
    data.withheld.pop(path, None)
    if "content" in record:
        data.files[path] = str(record["content"])
    elif "delta" in record:
        content = _replay_delta(previous, record)
        if content is None:
            data.withheld[path] = "its journaled change could not be read back"
        else:
            data.files[path] = content
    elif "withheld" in record:
        data.withheld[path] = str(record["withheld"])
    elif record.get("deleted"):
        data.deleted.add(path)


def _replay_delta(previous: str | None, record: dict[str, Any]) -> str | None:
    """The content a delta record describes, or None when its base is missing or it fails."""
    if previous is None:
        return None
    try:
        content = apply_delta(previous, list(record["delta"]))
    except (ValueError, TypeError):
        return None
    return content if digest(content) == record.get("sha") else None


def repair_tool_calls(turns: list[Turn]) -> tuple[list[Turn], int]:
    """`turns` with every tool call answered; returns them and how many were missing.

    A call without a result (the process died while the tool ran) gets an error
    result saying it was interrupted; a results turn that answers no call
    (its assistant turn was lost) is dropped. Providers reject either.
    """
    repaired: list[Turn] = []
    missing = 0
    index = 0
    while index < len(turns):
        turn = turns[index]
        index += 1
        if isinstance(turn, ToolResultsTurn):
            continue  # answered nothing: its calls are not in the history
        repaired.append(turn)
        if not isinstance(turn, AssistantTurn) or not turn.tool_calls:
            continue
        given: dict[str, ToolResult] = {}
        if index < len(turns) and isinstance(turns[index], ToolResultsTurn):
            given = {r.call_id: r for r in turns[index].results}  # type: ignore[union-attr]
            index += 1
        results = []
        for call in turn.tool_calls:
            result = given.get(call.id)
            if result is None:
                missing += 1
                result = interrupted_result(call)
            results.append(result)
        repaired.append(ToolResultsTurn(tuple(results)))
    return repaired, missing


def interrupted_result(call: ToolCall) -> ToolResult:
    """The error result given to a tool call that never finished."""
    text = (
        f"Tool error ({call.name}): {INTERRUPTED}; the session stopped while this call "
        "was running. Check the workspace before trying it again."
    )
    return ToolResult(call.id, call.name, output=text, model_output=text, is_error=True)


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
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        self._detach: list[Callable[[], None]] = []
        self._model = ""
        # The content last journaled per path: the base of the next delta.
        self._known: dict[str, str] = {}

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
            self.write(record, raw=raw, sync=action in ("undo", "redo", "flush"))

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
            files = session.workspace.files()
            deleted = sorted(p for p, kind in session.workspace.changes() if kind == "deleted")
            withheld = [p for p, text in files.items() if self._redactor.contains_secret(text)]
            kept = {p: text for p, text in files.items() if p not in withheld}
            self._known = dict(kept)
            self.write(
                {"type": "overlay"},
                raw={"files": kept, "deleted": deleted, "withheld": withheld},
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


_WHOLE_BELOW = 512  # small files are written whole: a delta would save next to nothing


def _header_paths(session: Session) -> dict[str, Any]:
    """Header fields that name places on disk: written as they are, never redacted."""
    root = session.workspace.root
    return {"id": session.id, "root": str(root) if root is not None else None, "cwd": session.cwd}


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
    session = Session(**kwargs)
    apply_overlay(session, data.files, data.deleted)
    session.history.extend(data.turns)
    session.usage = Usage(**data.usage.to_dict())
    if journal:
        Journal.attach(session)
    for message in restore_warnings(data, redacted):
        session.emit(EventKind.WARNING, message=message, restore=True)
        if on_warning is not None:
            on_warning(message)
    return session


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
    if data.damaged:
        warnings.append(f"{data.damaged} unreadable journal line(s) were skipped")
    warnings += [
        f"option {name} held a credential that is not journaled; pass it again"
        for name in redacted_options
    ]
    return warnings


def apply_overlay(session: Session, files: dict[str, str], deleted: set[str]) -> None:
    """Put a journaled overlay onto a fresh session's workspace."""
    workspace = session.workspace
    for path in sorted(deleted):
        if workspace.exists(path) and not workspace.is_dir(path):
            workspace.delete(path)
    for path in sorted(files):
        workspace.write(path, files[path])
