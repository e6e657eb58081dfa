"""Reading journals back: records to turns, replaying a file, repairing a crash's traces.

The format is described in `tiller.journal`. Replaying is forgiving: a line
that does not parse (a kill mid-write) is counted and skipped, a delta whose
base is missing or whose result does not match its digest makes that file
`withheld` instead of wrong, and tool calls left without results get an
"interrupted before a result" error result (`repair_tool_calls`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiller.events import EventKind
from tiller.history import AssistantTurn, ToolResultsTurn, Turn, UserTurn
from tiller.model import ToolCall, Usage
from tiller.text_delta import apply_delta, digest
from tiller.tools.registry import ToolResult

INTERRUPTED = "interrupted before a result"
WITHHELD_CREDENTIAL = "holds a credential"
UNREADABLE = "has a journal record that could not be read back"


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
        bases: for changed paths, the digest of the base each change was made on
            (journals written before it was recorded have none).
        usage: the session's total usage at the end.
        events: the journaled lifecycle events, as dicts.
        damaged: lines that could not be read (a torn last line after a crash).
        updated: the time of the last record (seconds since the epoch).
        withheld: paths whose latest content is not in the journal, and why
            (it holds a credential, or its record could not be read back).
        interrupted: tool calls that never got a result (a crash mid-tool);
            `turns` holds an "interrupted before a result" error result for each.
        reported_damaged: unreadable lines an earlier resume already warned about.
    """

    id: str
    path: Path
    header: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    bases: dict[str, str] = field(default_factory=dict)
    base_texts: dict[str, str] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    events: list[dict[str, Any]] = field(default_factory=list)
    damaged: int = 0
    updated: float = 0.0
    withheld: dict[str, str] = field(default_factory=dict)
    interrupted: int = 0
    reported_damaged: int = 0

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


def replay(path: Path) -> JournalData | None:
    """What the journal at `path` holds, with interrupted tool calls answered.

    Unreadable lines are counted in `damaged`; None when there is no header.
    """
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
        return None
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
        data.bases = {str(k): str(v) for k, v in record.get("bases", {}).items()}
        data.base_texts = {str(k): str(v) for k, v in record.get("base_texts", {}).items()}
        data.withheld = {str(p): WITHHELD_CREDENTIAL for p in record.get("withheld", ())}
    elif kind == "event":
        data.events.append(record["event"])
        event = record["event"]
        if event.get("kind") == EventKind.USAGE.value and "total" in event.get("data", {}):
            data.usage = Usage(**event["data"]["total"])
    elif kind == "model":
        data.header["model"] = record["model"]
    elif kind == "compact":
        data.turns = [turn_from_dict(turn) for turn in record["turns"]]
        data.usage = Usage(**record["usage"]) if "usage" in record else data.usage
    elif kind == "restored":
        data.reported_damaged = int(record["damaged"])
    elif kind == "resume":
        data.header["model"] = record.get("model", data.header.get("model"))
        data.usage = Usage(**record.get("usage", {})) if "usage" in record else data.usage


def _apply_file(data: JournalData, record: dict[str, Any]) -> None:
    path = str(record["path"])
    previous = data.files.pop(path, None)
    data.deleted.discard(path)
    data.withheld.pop(path, None)
    data.bases.pop(path, None)
    if "base_sha" in record:
        data.bases[path] = str(record["base_sha"])
    else:
        data.base_texts.pop(path, None)
    if "content" in record:
        data.files[path] = str(record["content"])
    elif "delta" in record:
        content = _replay_delta(previous, record)
        if content is None:
            data.withheld[path] = UNREADABLE
        else:
            data.files[path] = content
    elif "withheld" in record:
        data.withheld[path] = str(record["withheld"])
    elif record.get("deleted"):
        data.deleted.add(path)
    _apply_base_text(data, path, record)


def _apply_base_text(data: JournalData, path: str, record: dict[str, Any]) -> None:
    """Keep the base text a record carries (whole, or a delta from its content).

    A text kept from an earlier record may belong to an older base; `pin_base`
    checks it against the digest before using it.
    """
    if "base_text" in record:
        data.base_texts[path] = str(record["base_text"])
    elif "base_delta" in record and path in data.files:
        try:
            data.base_texts[path] = apply_delta(data.files[path], list(record["base_delta"]))
        except (ValueError, TypeError):
            data.base_texts.pop(path, None)


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
    unflushed: int = 0


def summarize(path: Path) -> JournalSummary | None:
    """A summary of one journal file without rebuilding its turns; None if not a journal."""
    header: dict[str, Any] | None = None
    model = ""
    turns = users = 0
    first = ""
    updated = 0.0
    # Whether each path's last journaled state differs from the disk (unflushed).
    pending: dict[str, bool] = {}
    for record in _read_records(path):
        if record is None:
            continue
        if record.get("type") == "overlay":
            pending = {str(p): True for p in [*record.get("files", {}), *record.get("deleted", [])]}
        elif record.get("type") == "file" and "path" in record:
            pending[str(record["path"])] = not record.get("base")
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
        unflushed=sum(pending.values()),
    )
