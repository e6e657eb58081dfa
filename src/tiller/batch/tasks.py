"""Task and result lines of `tiller batch`: parsing, validation, and what a results file holds."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tiller.config import REASONING_EFFORTS

STATUSES = ("completed", "turn_limit", "error", "cancelled")

_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "repo": (str,),
    "prompt": (str,),
    "commit": (str,),
    "model": (str,),
    "max_turns": (int,),
    "reasoning": (str,),
    "shell": (bool,),
    "setup": (str,),
}
_REQUIRED = ("id", "repo", "prompt")


class TaskFileError(ValueError):
    """A tasks file with malformed lines; `problems` holds one `line N: why` each."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: {len(problems)} malformed task line(s):\n" + "\n".join(problems))
        self.problems = problems


class ResultsFileError(ValueError):
    """A results file holding a line that is neither a result nor a torn one.

    Appending to it would mix results into someone else's file (the tasks file, a
    log, a binary), so a batch refuses it instead.
    """


@dataclass(frozen=True, slots=True)
class Task:
    """One line of a tasks file.

    Attributes:
        id: unique within the file; the key resume matches on.
        repo: a local directory, or a git URL cloned for the task.
        prompt: what the agent is asked to do.
        commit: for a git URL, the commit (or branch, tag) to check out.
        model: overrides the batch's model.
        max_turns: overrides the batch's round limit.
        reasoning: `none`, `low`, `medium` or `high`.
        shell: offer the agent the sandboxed `shell` tool.
        setup: a command run in the shell sandbox before the agent starts.
    """

    id: str
    repo: str
    prompt: str
    commit: str | None = None
    model: str | None = None
    max_turns: int | None = None
    reasoning: str | None = None
    shell: bool = False
    setup: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The task as a JSON object (what crosses to a Ray worker)."""
        return asdict(self)


@dataclass(slots=True)
class TaskResult:
    """One line of a results file.

    Attributes:
        id: the task's id.
        status: `completed`, `turn_limit`, `error` or `cancelled`.
        patch: exactly `Workspace.diff()` of the task's workspace.
        files_changed: `[path, kind]` pairs (`added`, `modified`, `deleted`).
        rounds: model calls made.
        usage: tokens and `cost_usd` (None when the price is unknown).
        duration_s: wall time of the task, clone and setup included.
        error: what went wrong, when something did (redacted, like `answer`).
        session_id: the journal `tiller sessions show` opens (on the machine that ran it).
        model: the model the task used.
        answer: the agent's final text, redacted as a journal redacts text (keys, URL
            credentials, known token formats become `[redacted]`).
    """

    id: str
    status: str
    patch: str = ""
    files_changed: list[list[str]] = field(default_factory=list)
    rounds: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    session_id: str | None = None
    model: str | None = None
    answer: str = ""

    @property
    def cost(self) -> float:
        """USD spent (0 when unknown)."""
        value = self.usage.get("cost_usd")
        return float(value) if isinstance(value, int | float) else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskResult:
        """A result from its JSON object (unknown keys ignored; a value of the wrong
        type, as a hand edit leaves it, reads as the field's default)."""
        known = {
            name: data[name]
            for name, kinds in _RESULT_FIELDS.items()
            if name in data
            and isinstance(data[name], kinds)
            and (bool in kinds or not isinstance(data[name], bool))
        }
        return cls(**known)


_RESULT_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "status": (str,),
    "patch": (str,),
    "files_changed": (list,),
    "rounds": (int,),
    "usage": (dict,),
    "duration_s": (int, float),
    "error": (str, type(None)),
    "session_id": (str, type(None)),
    "model": (str, type(None)),
    "answer": (str,),
}


def _check(data: Any) -> str | None:
    """Why a decoded line is not a task, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        return "missing " + ", ".join(repr(name) for name in missing)
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        return "unknown field(s) " + ", ".join(repr(name) for name in unknown)
    for name, value in data.items():
        kinds = _FIELDS[name]
        if value is None and name not in _REQUIRED:
            continue
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            return f"{name!r} must be {kinds[0].__name__}"
    for name in _REQUIRED:
        if not data[name].strip():
            return f"{name!r} is empty"
    if (data.get("commit") or "").startswith("-"):  # it goes on git's command line
        return "'commit' must name a commit, not start with '-'"
    if data.get("max_turns") is not None and data["max_turns"] < 1:
        return "'max_turns' must be at least 1"
    if data.get("reasoning") is not None and data["reasoning"] not in REASONING_EFFORTS:
        return f"'reasoning' must be one of {', '.join(REASONING_EFFORTS)}"
    return None


def parse_tasks(lines: Iterable[str | bytes], path: Path = Path("<tasks>")) -> list[Task]:
    """Every task of a tasks file's lines (blank lines skipped; bytes are decoded as UTF-8).

    Raises:
        TaskFileError: one or more lines are malformed (all of them are listed).
    """
    tasks: list[Task] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start]
                problems.append(
                    f"line {number}: not UTF-8 (byte 0x{bad:02x} at column {exc.start + 1})"
                )
                continue
        else:
            line = raw
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        why = _check(data)
        if why is not None:
            problems.append(f"line {number}: {why}")
            continue
        if data["id"] in seen:
            problems.append(
                f"line {number}: id {data['id']!r} already used on line {seen[data['id']]}"
            )
            continue
        seen[data["id"]] = number
        tasks.append(Task(**{k: v for k, v in data.items() if v is not None}))
    if problems:
        raise TaskFileError(path, problems)
    return tasks


def load_tasks(path: Path) -> list[Task]:
    """The tasks in the file at `path` (see `parse_tasks`).

    Raises:
        TaskFileError: malformed lines (a line that is not UTF-8 among them).
        OSError: the file cannot be read.
    """
    with path.open("rb") as fh:
        return parse_tasks(fh, path)


def read_results(path: Path) -> list[TaskResult]:
    """Every whole result line in `path`, in file order (a missing file holds none).

    A torn line (the tail of a file whose writer was killed mid-line on another
    filesystem, perhaps inside a UTF-8 character) is left out rather than failing a
    resume; blank lines too.

    Raises:
        ResultsFileError: a line is something else (this is not a results file).
        OSError: the file cannot be read.
    """
    if not path.exists():
        return []
    results = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                head = raw.rstrip(b"\r\n")
                if head.startswith(_RESULT_START) or _RESULT_START.startswith(head):
                    continue  # torn: its writer was cut off (even within the first bytes)
                data = None
            if not (
                isinstance(data, dict)
                and isinstance(data.get("id"), str)
                and isinstance(data.get("status"), str)
            ):
                raise ResultsFileError(
                    f"{path} line {number} is not a result line; is it the results file of a batch?"
                )
            results.append(TaskResult.from_dict(data))
    return results


# Every line `ResultWriter` writes starts so (`id` is the first field): a line that
# does not parse but starts so is one whose writer was cut off.
_RESULT_START = b'{"id":'


def finished_ids(path: Path) -> set[str]:
    """Ids a resume skips: those with a result other than `cancelled`."""
    return {r.id for r in read_results(path) if r.status != "cancelled"}


def latest_results(path: Path) -> list[TaskResult]:
    """One result per id: the last line written for it (a resumed task's newest)."""
    by_id: dict[str, TaskResult] = {}
    for result in read_results(path):
        by_id.pop(result.id, None)
        by_id[result.id] = result
    return list(by_id.values())
