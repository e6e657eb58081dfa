"""MCP tools as Tiller tools: `mcp__<server>__<tool>`, approval, results as text."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tiller.approvals import Approval, Decision
from tiller.errors import ToolError
from tiller.mcp.client import CallFailed, McpConnection, RemoteTool
from tiller.terminal_text import inert
from tiller.tools.base import ToolContext

MAX_NAME = 64
"""Providers accept tool names of at most 64 characters from `[A-Za-z0-9_-]`."""
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
MAX_DESCRIPTION = 2048
"""Characters of a server's tool description the model sees (Claude Code's cap): every
request carries every description, so one server's megabyte would fail every call."""
MAX_SCHEMA_BYTES = 64 * 1024
"""An input schema larger than this (as JSON) keeps its tool from the model, for the
same reason; real tools' schemas are a few kilobytes."""

Ask = Callable[..., Approval]
"""`Session.request_approval`: details, then `cancel=`."""


def tool_name(server: str, tool: str, *, distinct: bool = False) -> str:
    """`mcp__<server>__<tool>`, made safe for every provider (characters, 64 at most).

    Args:
        distinct: add a digest of the exact server and tool names, for a tool whose
            safe name another tool already has (`a.b` and `a_b`; server `a` tool `b__c`
            and server `a__b` tool `c`).
    """
    name = f"mcp__{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"
    if distinct:
        digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
        return f"{name[: MAX_NAME - 9]}_{digest}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why a server's input schema cannot be offered to the model, or None."""
    # Imported when a server's schema arrives: a session without MCP never pays for it.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    size = len(json.dumps(schema, ensure_ascii=False, default=str).encode())
    if size > MAX_SCHEMA_BYTES:
        return f"its input schema is {size:,} bytes, over {MAX_SCHEMA_BYTES:,}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    except RecursionError:
        return "its input schema is nested too deeply"
    if schema.get("type") != "object":
        return "the input schema is not an object"
    return None


@dataclass
class McpApprovals:
    """What MCP tools may run unasked: the user's `allow` lists and session answers.

    Attributes:
        mode: `ask`, `allow` (--yes) or `deny` (headless without --yes); the session's.
        session_allowed: tool names the person allowed for this session.
    """

    mode: Callable[[], str]
    session_allowed: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def preapproved(self, connection: McpConnection, remote: str, name: str) -> bool:
        """Whether the call runs without asking anyone."""
        if self.mode() == "allow":
            return True
        config = connection.config
        if config.trusted and (remote in config.allow or name in config.allow):
            return True
        with self._lock:
            return name in self.session_allowed

    def remember(self, name: str) -> None:
        """Allow `name` for the rest of the session."""
        with self._lock:
            self.session_allowed.add(name)


@dataclass(frozen=True)
class McpTool:
    """A tool of an MCP server, offered to the model under `mcp__<server>__<tool>`."""

    name: str
    description: str
    parameters: dict[str, Any]
    connection: McpConnection
    remote: str
    approvals: McpApprovals
    ask: Ask
    parallel_safe: bool = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> str:
        """Ask when needed, call the server, render the result as text.

        Raises:
            ToolError: denied, the server failed or timed out, or the tool reported an error.
        """
        args = without_lone_surrogates(args)
        self._approve(args, ctx)
        try:
            result = self.connection.call(self.remote, args, ctx.cancel)
        except CallFailed as exc:
            raise ToolError(str(exc)) from None
        text = render_result(result)
        if getattr(result, "is_error", False):
            raise ToolError(text or "the tool reported an error without a message")
        return text

    def _approve(self, args: dict[str, Any], ctx: ToolContext) -> None:
        if self.approvals.preapproved(self.connection, self.remote, self.name):
            return
        server = self.connection.name
        if self.approvals.mode() == "deny":
            raise ToolError(
                f"The MCP tool {self.name} needs approval and nobody can give it here "
                f"(a headless run). Run with --yes, or add {self.remote!r} to `allow` under "
                f"[mcp_servers.{server}] in your user config.toml. Do not retry this call."
            )
        arguments = json.dumps(args, ensure_ascii=False, sort_keys=True)
        answer = self.ask(
            {
                "tool": self.name,
                "call_id": ctx.call_id,
                # Shown by every front end: a server's description (or the model's
                # arguments) must not carry escape sequences that redraw the question.
                "command": inert(f"{self.name} {arguments}"),
                "server": server,
                "arguments": args,
                "description": inert(self.description.split("\n", 1)[0][:200]),
                "reason": (
                    f"tools of the MCP server {server!r} ask before they run: the server "
                    "runs outside Tiller's sandbox, with your access to files and network"
                ),
            },
            cancel=ctx.cancel,
        )
        if answer.decision is Decision.ALLOW_SESSION:
            self.approvals.remember(self.name)
        if not answer.allowed:
            reason = f" Their reason: {answer.reason.rstrip('.')}." if answer.reason else ""
            raise ToolError(
                "The user denied this MCP tool call; it did not run." + reason + " "
                "Do not retry it unchanged; adjust your approach or ask the user."
            )


def mcp_tool(
    connection: McpConnection,
    remote: RemoteTool,
    approvals: McpApprovals,
    ask: Ask,
    *,
    distinct: bool = False,
) -> McpTool:
    """The Tiller tool for one tool a server listed (`distinct`: see `tool_name`)."""
    name = tool_name(connection.name, remote.name, distinct=distinct)
    about = remote.description.strip() or f"The {remote.name} tool of the MCP server."
    description = f"[MCP server {connection.name}] {about}"
    if len(description) > MAX_DESCRIPTION:
        keep = MAX_DESCRIPTION - 40  # room for the marker
        description = f"{description[:keep]}… [{len(description) - keep:,} characters cut]"
    return McpTool(
        name=name,
        description=description,
        parameters=remote.input_schema,
        connection=connection,
        remote=remote.name,
        approvals=approvals,
        ask=ask,
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every lone surrogate in its strings made U+FFFD.

    A model's JSON may carry one (`"\\ud800"`); the SDK cannot encode it, and the failed
    write ends the whole connection to the server.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_lone_surrogates(item) for item in value]
    return value


def render_result(result: Any) -> str:
    """A `CallToolResult` as text: text blocks as they are, the rest as placeholders."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(block.data.rstrip("=")) * 3 // 4  # base64: no need to decode it
            parts.append(f"[{kind}: {block.mime_type}, {size:,} bytes, not shown]")
        elif kind == "resource_link":
            mime = f", {block.mime_type}" if block.mime_type else ""
            about = f": {block.description}" if block.description else ""
            parts.append(f"[resource link: {block.name} <{block.uri}>{mime}]{about}")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            if text is not None:
                parts.append(f"[resource <{resource.uri}>]\n{text}")
            else:
                mime = resource.mime_type or "binary"
                parts.append(f"[resource <{resource.uri}>: {mime}, not shown]")
        else:
            parts.append(f"[{kind or 'unknown'} content, not shown]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    return "\n".join(parts)
