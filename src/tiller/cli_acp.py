"""Sessions for `tiller acp`: each root's settings (its project config), the flags winning."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from tiller.acp_agent import McpEntries, SessionFactory, SessionLoader
from tiller.cli_options import FRONT_END_MAX_TURNS
from tiller.journal import JournalError, journal_path, restore_session
from tiller.journal_replay import summarize
from tiller.mcp.config import McpConfigError, McpServerConfig, server_config
from tiller.session import Session
from tiller.settings import load_settings


def session_builders(flags: dict[str, Any]) -> tuple[SessionFactory, SessionLoader]:
    """New and restored sessions with the settings of their root, flags winning."""

    def options(root: Path, mcp: McpEntries) -> dict[str, Any]:
        settings = load_settings(root, flags=flags)
        # The editor's own MCP servers are the user's configuration, not the project's.
        client_servers = [editor_server(name, entry) for name, entry in mcp.items()]
        # An editor's server replaces a configured one of the same name: two connections
        # under one name would offer one set of tool names for two servers.
        named = {server.name for server in client_servers}
        kept = tuple(s for s in settings.config.mcp_servers if s.name not in named)
        config = replace(settings.config, mcp_servers=kept + tuple(client_servers))
        return {
            "model": settings.model,
            "max_turns": settings.max_turns or FRONT_END_MAX_TURNS,
            "profile": settings.profile,
            "skills_dirs": settings.skills_dirs,
            "config": config,
            **settings.llm_options(),
        }

    def new(root: Path, mcp: McpEntries) -> Session:
        return Session(root=root.resolve(), **options(root, mcp))

    def load(session_id: str, root: Path, mcp: McpEntries) -> Session:
        check_loadable(session_id, root)
        given = {k: v for k, v in options(root, mcp).items() if v is not None}
        if flags.get("model") is None:
            given.pop("model", None)  # keep the journal's model unless one was chosen
        return restore_session(session_id, **given)

    return new, load


EDITOR = "the editor (ACP client)"


def editor_server(name: str, entry: dict[str, Any]) -> McpServerConfig:
    """One MCP server the editor passed, never an error that would fail `session/new`.

    Editors let people name servers freely ("GitHub MCP"); the name is made one Tiller
    accepts. An entry Tiller cannot use is kept, not started, and said as a warning.
    """
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "editor"
    try:
        return server_config(safe, entry, EDITOR, trusted=True)
    except McpConfigError as exc:
        return McpServerConfig(
            name=safe, source=EDITOR, trusted=True, blocked=f"not started: {exc}"
        )


def check_loadable(session_id: str, root: Path) -> None:
    """Refuse what `session/load` must not open: an id that is not exactly a journal's
    (`tiller --resume` takes prefixes; an editor's id is whole), or a session over another
    directory than the editor's `cwd` (its edits and flush would land in that project).

    Raises:
        JournalError: why the session is not loaded.
    """
    path = journal_path(session_id)
    summary = summarize(path) if path.is_file() else None
    if summary is None:
        raise JournalError(f"No session {session_id!r}")
    if summary.root is None or Path(summary.root).resolve() != root.resolve():
        raise JournalError(
            f"Session {session_id!r} belongs to {summary.root or 'no directory'}, not {root}; "
            "open it from there"
        )
