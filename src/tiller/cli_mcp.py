"""`tiller mcp list`: the configured MCP servers, started once to show status and tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from tiller.cli_options import Root, resolve_options

if TYPE_CHECKING:
    from tiller.mcp import McpServerConfig

mcp_app = typer.Typer(help="MCP servers whose tools the agent can use.", no_args_is_help=True)


@mcp_app.command("list")
def list_servers(root: Root = None) -> None:
    """Start every configured server, list its status and tools, then stop them."""
    from tiller.mcp import McpServers

    opts = resolve_options(root=root)
    for note in opts.settings.mcp_notes:
        typer.echo(f"note: {note}", err=True)
    servers = McpServers(opts.settings.config.mcp_servers, root=opts.root)
    try:
        servers.start()
        servers.wait_ready()
        for line in servers.describe():
            typer.echo(line)
    finally:
        servers.close()


def mcp_summary(servers: tuple[McpServerConfig, ...]) -> str:
    """One line for doctor: the configured servers without starting them."""
    if not servers:
        return "none ([mcp_servers.NAME] in config.toml, or a project .mcp.json)"
    listed = ", ".join(
        f"{s.name} ({s.transport}{'' if s.enabled else ', disabled'}; {s.source})" for s in servers
    )
    return f"{listed}; `tiller mcp list` starts them and shows their tools"
