"""`tiller mcp list`: the configured MCP servers, started once to show status and tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from tiller.cli_options import Root, resolve_options
from tiller.terminal_text import inert, readable

if TYPE_CHECKING:
    from tiller.mcp import McpServerConfig

mcp_app = typer.Typer(help="MCP servers whose tools the agent can use.", no_args_is_help=True)


@mcp_app.command("list")
def list_servers(root: Root = None) -> None:
    """Start every configured server, list its status and tools, then stop them."""
    from tiller.mcp import McpServers

    opts = resolve_options(root=root)
    for note in opts.settings.mcp_notes:
        typer.echo(f"note: {readable(note)}", err=True)
    servers = McpServers(opts.settings.config.mcp_servers, root=opts.root)
    try:
        servers.start()
        servers.wait_ready()
        for line in servers.describe():
            typer.echo(readable(line))
    finally:
        servers.close()


@mcp_app.command("trust")
def trust_project(root: Root = None) -> None:
    """Trust this project's MCP servers (.mcp.json, .tiller/config.toml) so they start.

    They run on this machine, outside the sandbox, as soon as a session opens: read
    their definitions first. A later change to them needs trusting again.
    """
    import dataclasses

    from tiller.mcp.config import variables_given
    from tiller.mcp.trust import project_servers, trust

    opts = resolve_options(root=root)
    project = project_servers(opts.settings.config.mcp_servers)
    if not project:
        typer.echo("This project defines no MCP servers.")
        return
    for server in project:
        # Inert: escape sequences in a project's args could redraw the line being reviewed.
        typer.echo(
            inert(f"{server.name}: {server.transport}: {server.target}  (from {server.source})")
        )
        # A header or env value may hand a token to the server: say which, by name.
        given = variables_given(server)
        if given:
            typer.echo(f"    given from your environment: {', '.join(given)}")
    trust(opts.root, [dataclasses.replace(s, blocked="") for s in project])
    typer.echo(f"Trusted {len(project)} MCP server(s) for {opts.root}; they start next time.")


def mcp_summary(servers: tuple[McpServerConfig, ...]) -> str:
    """One line for doctor: the configured servers without starting them."""
    if not servers:
        return "none ([mcp_servers.NAME] in config.toml, or a project .mcp.json)"
    listed = ", ".join(
        f"{s.name} ({s.transport}{'' if s.enabled else ', disabled'}; {s.source})" for s in servers
    )
    return f"{listed}; `tiller mcp list` starts them and shows their tools"
