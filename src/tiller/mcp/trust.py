"""Project MCP servers start only once the user has trusted that project's definitions.

A server from a project's `.mcp.json` or `.tiller/config.toml` is a program the
repository names; starting it runs that program on the user's machine, outside
any sandbox, the moment a session opens. So, as Claude Code asks first, Tiller
starts a project's servers only after `tiller mcp trust` recorded the exact
definitions for that root; any change to them needs trusting again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from tiller.mcp.config import McpServerConfig

TRUST_FILE = "mcp-trusted.json"
"""In Tiller's data dir: root path -> digest of the project server definitions it trusts."""


def _store() -> Path:
    from tiller.journal import data_dir

    return data_dir() / TRUST_FILE


def digest(servers: Iterable[McpServerConfig]) -> str:
    """A digest of what the servers would run (their source file and trust flag left out)."""
    shapes = []
    for server in servers:
        shape = dataclasses.asdict(server)
        shape.pop("source", None)
        shape.pop("trusted", None)
        shape.pop("blocked", None)
        shapes.append(shape)
    text = json.dumps(shapes, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _load() -> dict[str, str]:
    try:
        data = json.loads(_store().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def is_trusted(root: str | Path, servers: list[McpServerConfig]) -> bool:
    """Whether the user trusted exactly these project servers for `root`."""
    return _load().get(os.path.realpath(root)) == digest(servers)


def trust(root: str | Path, servers: list[McpServerConfig]) -> None:
    """Record that the user trusts these project servers for `root` (written atomically)."""
    store = _store()
    store.parent.mkdir(parents=True, exist_ok=True)
    trusted = _load()
    trusted[os.path.realpath(root)] = digest(servers)
    temp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(trusted, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temp, store)


def project_servers(servers: Iterable[McpServerConfig]) -> list[McpServerConfig]:
    """The servers a project defined (not the user's own config)."""
    return [server for server in servers if not server.trusted]


def gate(root: str | Path, servers: tuple[McpServerConfig, ...]) -> tuple[McpServerConfig, ...]:
    """`servers` with the project's marked blocked unless the user trusted that exact set."""
    project = project_servers(servers)
    if not project or is_trusted(root, project):
        return servers
    names = ", ".join(s.name for s in project)
    reason = (
        f"not started: the project defines MCP servers ({names}) that would run on this "
        "machine outside the sandbox. Review them, then run `tiller mcp trust` in this "
        "project to start them."
    )
    return tuple(
        server if server.trusted else dataclasses.replace(server, blocked=reason)
        for server in servers
    )
