"""Engine events as ACP `session/update`s: message and thought chunks, tool calls with diffs.

`UpdateBridge` is a session subscriber. It runs on the engine's worker thread
(events are emitted synchronously there), so it can read a file's old text from
the workspace before an edit tool runs, and hands every update to the asyncio
loop in order through one queue (`loop.call_soon_threadsafe`). An approval
request travels the same queue, so the editor sees the tool call before it is
asked about it.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from acp import (
    start_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_tool_call,
)
from acp.schema import ToolCallLocation, ToolCallProgress, ToolKind

from tiller.events import EDIT_TOOLS, Event, EventKind
from tiller.terminal_text import inert
from tiller.workspace import Workspace
from tiller.workspace.paths import printable

TOOL_KINDS: dict[str, ToolKind] = {
    "read_file": "read",
    "write_file": "edit",
    "edit_file": "edit",
    "apply_patch": "edit",
    "grep": "search",
    "glob": "search",
    "list_dir": "search",
    "shell": "execute",
    "skill": "read",
}
# Output shown in the editor beyond this is cut (the model's own copy is truncated apart).
MAX_SHOWN_CHARS = 20_000
_PATCH_PATHS = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$|^\*\*\* Move to: (.+)$", re.M)


@dataclass(frozen=True, slots=True)
class PermissionAsk:
    """An approval the engine waits on: what to ask the client, and where the answer goes."""

    call_id: str
    details: dict[str, Any]
    future: Future[object]


@dataclass
class _Call:
    name: str
    arguments: dict[str, Any]
    before: dict[str, str | None] = field(default_factory=dict)
    output: str = ""
    """The newest output, at most `MAX_SHOWN_CHARS + 1` characters (the editor is shown
    no more; one more says it was cut)."""
    queued: bool = False
    """Whether an update showing `output` already waits in the queue."""


@dataclass(frozen=True, slots=True)
class OutputUpdate:
    """A command's newest output, read when the update is sent rather than when queued.

    One waits in the queue per call at most: an editor that reads slowly (or not at all)
    costs one update per call, not one per piece of output.
    """

    call_id: str
    call: _Call
    lock: threading.Lock

    def build(self) -> ToolCallProgress:
        """The update with the output as it is now."""
        with self.lock:
            self.call.queued = False
            text = terminal_text(self.call.output)
        return update_tool_call(self.call_id, content=[tool_content(text_block(text))])


def pending_update(item: object) -> object:
    """A queued item as it is sent: an `OutputUpdate` built now, anything else as it is."""
    return item.build() if isinstance(item, OutputUpdate) else item


def tool_arguments(raw: object) -> dict[str, Any]:
    """A tool call's arguments as a dict (the model's raw JSON text parsed; {} when not JSON)."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(str(raw or "{}"))
    except (ValueError, RecursionError):  # not JSON, or nested past the parser
        return {}
    return value if isinstance(value, dict) else {}


def _named_paths(name: str, args: dict[str, Any]) -> list[str]:
    """The workspace paths an edit tool says it will touch."""
    if name in ("write_file", "edit_file"):
        path = args.get("file_path")
        return [path] if isinstance(path, str) else []
    if name == "apply_patch" and isinstance(args.get("patch"), str):
        return [a or b for a, b in _PATCH_PATHS.findall(args["patch"])]
    return []


def tool_title(name: str, args: dict[str, Any]) -> str:
    """A short line an editor shows for a tool call."""
    if name == "shell":
        # The editor's permission prompt shows this: no escape sequence may rewrite it.
        return f"Run `{inert(str(args.get('command', '')))}`"
    if name in ("read_file", "write_file", "edit_file"):
        verb = {"read_file": "Read", "write_file": "Write", "edit_file": "Edit"}[name]
        return f"{verb} {args.get('file_path', '')}"
    if name == "grep":
        return f"grep {args.get('pattern', '')!r}"
    if name == "glob":
        return f"glob {args.get('pattern', '')}"
    if name == "list_dir":
        return f"List {args.get('path') or '.'}"
    if name == "apply_patch":
        return "Apply patch"
    server, _, tool = name.removeprefix("mcp__").partition("__")
    if name.startswith("mcp__") and tool:
        return f"{tool} (MCP {server})"
    return name


def shown_output(output: str) -> str:
    """A tool's output as the editor is shown it: its first `MAX_SHOWN_CHARS` characters."""
    return output if len(output) <= MAX_SHOWN_CHARS else output[:MAX_SHOWN_CHARS] + "…"


def terminal_text(output: str) -> str:
    """Command output as a fenced block, the way ACP clients show a terminal's text."""
    shown = output if len(output) <= MAX_SHOWN_CHARS else "…" + output[-MAX_SHOWN_CHARS:]
    fence = "```"
    while fence in shown:
        fence += "`"
    return f"{fence}console\n{shown.rstrip(chr(10))}\n{fence}"


class UpdateBridge:
    """Turns one session's events into ACP updates on an asyncio queue.

    Args:
        workspace: the session's workspace (old and new text of edited files).
        loop: the loop that owns `queue`.
        queue: receives ACP update models and `PermissionAsk`s, in event order.
    """

    def __init__(
        self, workspace: Workspace, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object]
    ) -> None:
        self.workspace = workspace
        self.loop = loop
        self.queue = queue
        self._calls: dict[str, _Call] = {}
        self._lock = threading.Lock()  # the engine's thread writes output, the loop reads it
        self._changed: list[str] = []
        self._handlers: dict[EventKind, Callable[[Event], None]] = {
            EventKind.ASSISTANT_TEXT_DELTA: self._on_text,
            EventKind.ASSISTANT_REASONING_DELTA: self._on_reasoning,
            EventKind.TOOL_CALL_START: self._on_tool_start,
            EventKind.TOOL_CALL_OUTPUT_DELTA: self._on_tool_output,
            EventKind.TOOL_CALL_END: self._on_tool_end,
            EventKind.WORKSPACE_CHANGED: self._on_workspace_changed,
            EventKind.APPROVAL_REQUESTED: self._on_approval,
            EventKind.ERROR: self._on_notice,
            EventKind.WARNING: self._on_notice,
            EventKind.TURN_LIMIT: self._on_notice,
        }

    def __call__(self, event: Event) -> None:
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(event)

    def put(self, item: object) -> None:
        """Queue `item` on the loop (safe from any thread)."""
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def absolute(self, path: str) -> str:
        """An editor wants absolute paths; the workspace speaks root-relative ones.

        A name that is not UTF-8 is shown as `\\xNN` escapes: as a lone surrogate it
        would make the JSON invalid for strict parsers (an editor's, say).
        """
        root = self.workspace.root
        return printable(str(root / path) if root is not None else path)

    def _inside(self, path: str) -> str | None:
        """`path` as a workspace path, or None when the workspace refuses it."""
        try:
            return self.workspace.resolve_path(path)
        except Exception:  # outside the root, through a link out of it, malformed
            return None

    def _read(self, path: str) -> str | None:
        try:
            return self.workspace.read(path)
        except Exception:  # missing, binary, a directory: no text to show
            return None

    def _on_text(self, event: Event) -> None:
        self.put(update_agent_message_text(event.data["delta"]))

    def _on_reasoning(self, event: Event) -> None:
        self.put(update_agent_thought_text(event.data["delta"]))

    def _on_notice(self, event: Event) -> None:
        if event.kind is EventKind.TURN_LIMIT:
            text = f"Stopped after {event.data.get('max_turns')} rounds (the turn limit)."
        elif event.kind is EventKind.WARNING:
            text = f"Warning: {event.data.get('message', '')}"
        else:
            text = f"Error: {event.data.get('message', '')}"
        self.put(update_agent_message_text(f"\n\n{text}\n"))

    def _on_tool_start(self, event: Event) -> None:
        name, call_id = event.data["name"], event.data["call_id"]
        args = tool_arguments(event.data.get("arguments"))
        call = _Call(name, args)
        for path in _named_paths(name, args):
            try:
                key = self.workspace.resolve_path(path)
            except Exception:  # the tool itself reports a bad path
                continue
            call.before[key] = self._read(key)
        self._calls[call_id] = call
        path = args.get("file_path") or args.get("path")
        # Only a path the workspace accepts: an editor that follows the agent would open
        # whatever it is pointed at (`/etc/passwd`, `../other-project/.env`).
        inside = self._inside(path) if isinstance(path, str) else None
        locations = [ToolCallLocation(path=self.absolute(inside))] if inside is not None else None
        self.put(
            start_tool_call(
                call_id,
                tool_title(name, args),
                kind=TOOL_KINDS.get(name, "other"),
                status="in_progress",
                locations=locations,
                raw_input=args,
            )
        )

    def _on_tool_output(self, event: Event) -> None:
        call_id = event.data["call_id"]
        call = self._calls.get(call_id)
        if call is None:
            return
        with self._lock:
            # Only the tail is ever shown: a command printing gigabytes keeps 20 KB here.
            call.output = (call.output + event.data["delta"])[-(MAX_SHOWN_CHARS + 1) :]
            if call.queued:
                return  # the update waiting in the queue will show this output too
            call.queued = True
        self.put(OutputUpdate(call_id, call, self._lock))

    def _on_workspace_changed(self, event: Event) -> None:
        self._changed.append(event.data["path"])

    def _on_tool_end(self, event: Event) -> None:
        call_id = event.data["call_id"]
        call = self._calls.pop(call_id, None) or _Call(event.data.get("name", ""), {})
        output = str(event.data.get("output", ""))
        failed = bool(event.data.get("is_error"))
        changed, self._changed = self._changed, []
        if call.name in EDIT_TOOLS and not failed:
            paths = list(dict.fromkeys([*call.before, *changed]))
            # A new file's old text is "" rather than absent: the SDK drops None fields,
            # and clients that match on `oldText` (toad) then show no diff at all.
            content = [
                tool_diff_content(self.absolute(p), self._read(p) or "", call.before.get(p) or "")
                for p in paths
            ]
        elif call.name == "shell" and (call.output or not failed):
            # What the command printed, as a terminal shows it; the summary (exit code,
            # workspace changes) stays in the raw output.
            content = [tool_content(text_block(terminal_text(call.output or output)))]
        else:
            shown = shown_output(output)
            content = [tool_content(text_block(shown))] if shown else []
        self.put(
            update_tool_call(
                call_id,
                status="failed" if failed else "completed",
                content=content,
                # An object, not the bare string: clients that type-check updates (toad
                # declares `rawOutput: dict`) drop the whole update otherwise.
                raw_output={"output": output} if call.name == "shell" else None,
            )
        )

    def _on_approval(self, event: Event) -> None:
        future = event.data.get("future")
        if not isinstance(future, Future):
            return
        details = {k: v for k, v in event.data.items() if k != "future"}
        self.put(
            PermissionAsk(str(details.get("call_id", details.get("request_id"))), details, future)
        )


def coalesce(items: list[object]) -> list[object]:
    """`items` without command-output updates that a later one in the batch supersedes.

    Each output update carries the whole output so far, so when a command prints
    faster than the client reads only the newest of a run needs sending.
    """
    last: dict[str, int] = {}
    for index, item in enumerate(items):
        if _output_only(item):
            last[item.tool_call_id] = index  # type: ignore[attr-defined]
    return [
        item
        for index, item in enumerate(items)
        if not _output_only(item) or last[item.tool_call_id] == index  # type: ignore[attr-defined]
    ]


def _output_only(item: object) -> bool:
    return isinstance(item, ToolCallProgress) and item.status is None
