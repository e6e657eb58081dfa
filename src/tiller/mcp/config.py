"""MCP server configuration: `[mcp_servers.NAME]` in TOML (Codex's shape) and `.mcp.json`.

A server is either a command Tiller starts and talks to over stdio (`command`, `args`,
`env`, `env_vars`, `cwd`) or a streamable-HTTP endpoint (`url`, `headers`). `${VAR}` and
`${VAR:-default}` in args, env values, url and headers are taken from Tiller's environment
when the server starts (Claude Code's expansion), so a token never has to be written into
a file. Only the user's own config may pre-approve tools (`allow`): a project file can add
servers but not let their tools run unasked.

Importing this module never imports the `mcp` SDK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MCP_JSON = ".mcp.json"
DEFAULT_TOOL_TIMEOUT_S = 60.0
DEFAULT_STARTUP_TIMEOUT_S = 10.0
TRANSPORTS = ("stdio", "http", "sse")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class McpConfigError(ValueError):
    """An MCP server entry Tiller cannot use; the message names the file and the server."""


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One MCP server as configured.

    Attributes:
        name: the server's name (`mcp__<name>__<tool>` in the tool names).
        transport: `stdio`, `http` (streamable HTTP) or `sse` (the older HTTP transport).
        command: the program to start (stdio).
        args: its arguments.
        env: variables set for it (values may use `${VAR}`).
        env_vars: variables passed through from Tiller's environment by name.
        cwd: where it starts (relative: to the workspace root; default the root).
        url: the endpoint (http, sse).
        headers: HTTP headers (values may use `${VAR}`).
        enabled: False keeps the entry but never starts it.
        tool_timeout_s: a call that takes longer is cancelled and reported.
        startup_timeout_s: a server not ready by then is reported as failed.
        allow: tool names (the server's own, or `mcp__...` names) that run without asking;
            only honoured from the user's own config (`trusted`).
        source: the file the entry came from.
        trusted: whether it came from the user's own config.
        blocked: why it must not start (a project's server the user has not trusted).
    """

    name: str
    transport: str = "stdio"
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    env_vars: tuple[str, ...] = ()
    cwd: str | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    tool_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    allow: tuple[str, ...] = ()
    source: str = ""
    trusted: bool = False
    blocked: str = ""

    @property
    def target(self) -> str:
        """What the server is, in one line (`command args` or the URL)."""
        if self.transport == "stdio":
            return " ".join([self.command, *self.args])
        return self.url


# -- expansion and the environment ---------------------------------------------------------


def expand(text: str, environ: Mapping[str, str]) -> str:
    """`text` with `${VAR}` / `${VAR:-default}` replaced from `environ`.

    Raises:
        McpConfigError: a variable without a default is not set.
    """

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise McpConfigError(f"${{{name}}} is used but not set in the environment")

    return _VAR.sub(value, text)


def variables_given(config: McpServerConfig) -> list[str]:
    """The environment variables a server is given by name: `env_vars` and every `${VAR}`
    in its args, env, url and headers (what trusting a project's server hands over)."""
    texts = [*config.args, *config.env.values(), config.url, *config.headers.values()]
    names = {match.group(1) for text in texts for match in _VAR.finditer(text)}
    return sorted(names | set(config.env_vars))


def server_env(config: McpServerConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a stdio server starts with.

    Everything in `environ` except variables named like secrets, then the variables
    `env_vars` names, then `env` (expanded). A secret reaches a server only when its
    entry names it (in `env_vars`, or as `${NAME}` in an `env` value).

    Raises:
        McpConfigError: an `env` value uses a variable that is not set.
    """
    # the shell package is heavy to import
    from tiller.shell.environment import is_secret_variable

    env = {name: value for name, value in environ.items() if not is_secret_variable(name, value)}
    env.update({name: environ[name] for name in config.env_vars if name in environ})
    env.update({name: expand(value, environ) for name, value in config.env.items()})
    return env


# -- parsing ---------------------------------------------------------------------------------

_KEYS = {
    "command": str,
    "args": list,
    "env": dict,
    "env_vars": list,
    "cwd": str,
    "url": str,
    "headers": dict,
    "enabled": bool,
    "tool_timeout_s": float,
    "startup_timeout_s": float,
    "allow": list,
    "type": str,
}


def _check(name: str, entry: Mapping[str, Any], where: str, *, strict: bool) -> None:
    prefix = f"{where}: mcp_servers.{name}"
    if not _NAME.fullmatch(name):
        raise McpConfigError(f"{prefix}: a server name may hold letters, digits, _ and - only")
    for key, value in entry.items():
        kind = _KEYS.get(key)
        if kind is None:
            if strict:
                known = ", ".join(sorted(_KEYS))
                raise McpConfigError(f"{prefix}: unknown key {key!r} (known: {known})")
            continue
        if kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
            if not ok:
                raise McpConfigError(f"{prefix}.{key} must be a number of seconds > 0")
        elif kind is list:
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise McpConfigError(f"{prefix}.{key} must be a list of strings")
        elif kind is dict:
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            )
            if not ok:
                raise McpConfigError(f"{prefix}.{key} must be a table of strings")
        elif not isinstance(value, kind):
            raise McpConfigError(f"{prefix}.{key} must be a {kind.__name__}")
    transport = entry.get("type") or ("stdio" if "command" in entry else "http")
    if transport == "streamable-http":
        transport = "http"
    if transport not in TRANSPORTS:
        raise McpConfigError(f"{prefix}.type must be one of {', '.join(TRANSPORTS)}")
    if transport == "stdio" and not entry.get("command", "").strip():
        raise McpConfigError(f"{prefix}: a stdio server needs a command")
    if transport != "stdio" and not entry.get("url", "").strip():
        raise McpConfigError(f"{prefix}: an HTTP server needs a url (or give a command)")


def server_config(
    name: str, entry: Mapping[str, Any], where: str, *, trusted: bool, strict: bool = True
) -> McpServerConfig:
    """Build one server's config from its table.

    Args:
        name: the server's name.
        entry: its table (`[mcp_servers.NAME]` or one `mcpServers` entry).
        where: the file, for messages.
        trusted: the user's own config (may pre-approve tools with `allow`).
        strict: refuse unknown keys (Tiller's TOML); `.mcp.json` belongs to other tools too.

    Raises:
        McpConfigError: a bad key or value, or `allow` in a file that may not approve.
    """
    _check(name, entry, where, strict=strict)
    if "allow" in entry and not trusted:
        raise McpConfigError(
            f"{where}: mcp_servers.{name}.allow may only be set in your user config: "
            "a repository must not approve its own tools"
        )
    transport = entry.get("type") or ("stdio" if "command" in entry else "http")
    return McpServerConfig(
        name=name,
        transport="http" if transport == "streamable-http" else transport,
        command=entry.get("command", ""),
        args=tuple(entry.get("args", ())),
        env=dict(entry.get("env", {})),
        env_vars=tuple(entry.get("env_vars", ())),
        cwd=entry.get("cwd"),
        url=entry.get("url", ""),
        headers=dict(entry.get("headers", {})),
        enabled=entry.get("enabled", True),
        tool_timeout_s=float(entry.get("tool_timeout_s", DEFAULT_TOOL_TIMEOUT_S)),
        startup_timeout_s=float(entry.get("startup_timeout_s", DEFAULT_STARTUP_TIMEOUT_S)),
        allow=tuple(entry.get("allow", ())),
        source=where,
        trusted=trusted,
    )


def servers_from_table(table: Any, where: str, *, trusted: bool) -> list[McpServerConfig]:
    """The servers of a TOML `[mcp_servers]` table.

    Raises:
        McpConfigError: the table or an entry is malformed.
    """
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise McpConfigError(f"{where}: [mcp_servers] must hold one table per server")
    return [server_config(n, e, where, trusted=trusted) for n, e in table.items()]


def load_mcp_json(path: Path, notes: list[str] | None = None) -> list[McpServerConfig]:
    """The servers of a project's `.mcp.json` (Claude Code's shape); none when absent.

    Args:
        path: the file.
        notes: when given, a file Tiller cannot read (comments, say) or an entry it
            cannot use (a name with a space, a transport it does not speak) is skipped
            and said here instead of failing: the file belongs to other tools too. An
            entry that pre-approves its tools (`allow`) still fails it.

    Raises:
        McpConfigError: the file is not JSON or not `{"mcpServers": {...}}`, or an entry
            is unusable and `notes` is None.
    """
    try:
        servers = _mcp_json_servers(Path(path))
    except McpConfigError as exc:
        if notes is None:
            raise
        notes.append(f"{exc}; its servers are skipped")
        return []
    found = []
    for name, entry in servers.items():
        if notes is not None and "allow" not in entry:
            try:
                found.append(server_config(name, entry, str(path), trusted=False, strict=False))
            except McpConfigError as exc:
                notes.append(f"{exc}; that server is skipped")
            continue
        found.append(server_config(name, entry, str(path), trusted=False, strict=False))
    return found


def _mcp_json_servers(path: Path) -> dict[str, dict[str, Any]]:
    """The `mcpServers` table of a `.mcp.json` ({} when the file is absent).

    Raises:
        McpConfigError: the file is unreadable, not JSON, or not `{"mcpServers": {...}}`.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise McpConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise McpConfigError(f"{path}: not valid JSON: {exc}") from None
    servers = data.get("mcpServers", {}) if isinstance(data, dict) else None
    if not isinstance(servers, dict) or not all(isinstance(v, dict) for v in servers.values()):
        raise McpConfigError(f'{path}: expected {{"mcpServers": {{"name": {{...}}}}}}')
    return servers


def merge_servers(
    user: list[McpServerConfig], project: list[McpServerConfig]
) -> tuple[tuple[McpServerConfig, ...], list[str]]:
    """The user's servers, then the project's new ones; a project entry never replaces one.

    A repository redefining a server the user trusts could point the user's headers or
    pre-approved tools at its own program, so the user's definition wins.

    Returns:
        The servers, and one note per project entry that was ignored.
    """
    chosen: dict[str, McpServerConfig] = {}
    notes: list[str] = []
    for server in user:
        chosen[server.name] = server
    for server in project:
        if server.name in chosen and chosen[server.name].trusted:
            notes.append(
                f"{server.source}: MCP server {server.name!r} is also in your user config; "
                "the user config's entry is used"
            )
            continue
        chosen[server.name] = server
    return tuple(chosen.values()), notes
