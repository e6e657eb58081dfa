"""`McpServers`: a session's MCP servers, their tools, and what was reported."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tiller.mcp.client import McpConnection, McpLoop, RemoteTool, ServerStatus
from tiller.mcp.config import McpServerConfig
from tiller.mcp.tools import Ask, McpApprovals, McpTool, mcp_tool, schema_problem, tool_name
from tiller.terminal_text import inert

MAX_MCP_TOOLS = 100
"""MCP tools offered in all: OpenAI refuses a request with more than 128 tools, so one
server listing hundreds would fail every model call (the built-ins need the rest)."""


def _never_asked(*_: object, **__: object) -> object:
    from tiller.approvals import Approval, Decision

    return Approval(Decision.DENY, "Nobody can answer approvals here.")


class McpServers:
    """Starts the configured servers in the background and offers their tools.

    Args:
        configs: the servers (disabled ones are listed but never started).
        root: the workspace root (the servers' default working directory).
        approval_mode: the session's approval mode, read at each call
            (`ask`, `allow` for --yes, `deny` for a headless run).
        ask: how to ask the person (`Session.request_approval`).
        on_tools: called when a server's tools became available.
        on_warning: called with one line per server that failed or crashed.
        environ: the environment servers inherit (filtered; default `os.environ`).
    """

    def __init__(
        self,
        configs: Sequence[McpServerConfig],
        *,
        root: Path | None = None,
        approval_mode: Callable[[], str] = lambda: "ask",
        ask: Ask | None = None,
        on_tools: Callable[[], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.loop = McpLoop()
        self.approvals = McpApprovals(approval_mode)
        self._ask: Ask = ask or _never_asked  # type: ignore[assignment]
        self._on_tools = on_tools
        self._on_warning = on_warning
        self._lock = threading.Lock()
        self._tools: dict[str, list[McpTool]] = {}
        self.warnings: list[str] = []
        self.connections = [
            McpConnection(c, self.loop, root=root, environ=environ, on_change=self._changed)
            for c in configs
        ]

    def start(self) -> None:
        """Start every enabled server; returns at once."""
        for connection in self.connections:
            if connection.config.blocked:
                self._warn(f"MCP server {connection.name!r} {connection.config.blocked}")
            connection.start()

    def wait_ready(
        self, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> None:
        """Wait until every server is ready or failed (each at most its startup timeout)."""
        for connection in self.connections:
            limit = connection.config.startup_timeout_s + 1 if timeout is None else timeout
            connection.wait_ready(limit, cancel)

    def tools(self) -> list[McpTool]:
        """The tools of every server that listed them, in config order.

        A name an earlier server's tool already has (server `a` tool `b__c` against
        server `a__b` tool `c`) gets a digest, so no server's tool hides another's.
        """
        with self._lock:
            listed = [tool for c in self.connections for tool in self._tools.get(c.name, [])]
        taken: set[str] = set()
        tools: list[McpTool] = []
        for tool in listed:
            if tool.name in taken:
                name = tool_name(tool.connection.name, tool.remote, distinct=True)
                tool = dataclasses.replace(tool, name=name)
            taken.add(tool.name)
            tools.append(tool)
        return tools

    def close(self) -> None:
        """Stop every server (their processes end), then the loop thread."""
        for connection in self.connections:
            connection.close()
        self.loop.stop()

    def describe(self) -> list[str]:
        """Lines for `/mcp`, `tiller mcp list` and doctor: each server, its status, its tools.

        Control characters are shown as `\\xNN`: a project's args are printed for review, and
        an escape sequence in them could draw another command over the real one.
        """
        if not self.connections:
            return ["No MCP servers configured ([mcp_servers.NAME] in config.toml, or .mcp.json)."]
        lines = []
        for c in self.connections:
            where = f"{c.config.transport}: {c.config.target}"
            lines.append(f"{c.name}  {c.status}  ({where}; from {c.config.source or 'code'})")
            if c.error:
                lines.append(f"    error: {c.error}")
            names = [tool.name for tool in self._tools.get(c.name, [])]
            if names:
                lines.append(f"    tools: {', '.join(names)}")
            if c.config.allow:
                lines.append(f"    runs unasked: {', '.join(c.config.allow)}")
        return [inert(line) for line in lines]

    def _changed(self, connection: McpConnection) -> None:
        if connection.status is ServerStatus.READY:
            self._register(connection)
        elif connection.status is ServerStatus.FAILED:
            self._warn(f"MCP server {connection.name!r} failed: {connection.error}")

    def _register(self, connection: McpConnection) -> None:
        tools: list[McpTool] = []
        offered: list[RemoteTool] = []
        for remote in connection.tools:
            problem = schema_problem(remote.input_schema)
            if problem is not None:
                self._warn(
                    f"MCP server {connection.name!r}: tool {remote.name!r} skipped ({problem})"
                )
                continue
            offered.append(remote)
        # Names that come out alike once made safe (`a.b`, `a_b`) all get a digest:
        # which tool is which then never depends on the order the server lists them.
        with self._lock:
            room = MAX_MCP_TOOLS - sum(
                len(tools) for name, tools in self._tools.items() if name != connection.name
            )
        if len(offered) > max(room, 0):
            left = offered[max(room, 0) :]
            names = left[0].name if len(left) == 1 else f"{left[0].name} … {left[-1].name}"
            self._warn(
                f"MCP server {connection.name!r}: {len(left)} of its {len(offered)} tools are "
                f"not offered ({names}): a model request may carry at most 128 tools, and "
                f"Tiller offers MCP tools up to {MAX_MCP_TOOLS}"
            )
            offered = offered[: max(room, 0)]
        safe = Counter(tool_name(connection.name, remote.name) for remote in offered)
        for remote in offered:
            distinct = safe[tool_name(connection.name, remote.name)] > 1
            tool = mcp_tool(connection, remote, self.approvals, self._ask, distinct=distinct)
            tools.append(tool)
        with self._lock:
            self._tools[connection.name] = tools
        if self._on_tools is not None:
            self._on_tools()

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._on_warning is not None:
            self._on_warning(message)


def describe_servers(servers: McpServers | None) -> list[str]:
    """`/mcp`'s lines for a session's servers (`session.mcp`, None when none are configured)."""
    if servers is None:
        return McpServers([]).describe()
    return servers.describe()
