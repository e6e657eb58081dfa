"""MCP client: servers from the config become tools named `mcp__<server>__<tool>`.

`config` reads `[mcp_servers.NAME]` and `.mcp.json`; `client` owns the connections on
one event-loop thread; `tools` adapts them to Tiller's `Tool`; `servers` ties a
session's servers together. Only `client` imports the `mcp` SDK, lazily; importing
this package (settings do) loads nothing but `config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiller.mcp.config import McpConfigError, McpServerConfig, load_mcp_json

if TYPE_CHECKING:
    from tiller.mcp.servers import McpServers, describe_servers

__all__ = ["McpConfigError", "McpServerConfig", "McpServers", "describe_servers", "load_mcp_json"]


def __getattr__(name: str) -> Any:
    if name in ("McpServers", "describe_servers"):
        from tiller.mcp import servers

        return getattr(servers, name)
    raise AttributeError(f"module 'tiller.mcp' has no attribute {name!r}")
