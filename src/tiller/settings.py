"""User and project configuration: config files, environment variables, flags.

Precedence, highest first: command-line flags, environment variables
(`TILLER_MODEL`, ...), `<root>/.tiller/config.toml`, the user's
`config.toml` (`~/.config/tiller/` on Linux; `TILLER_CONFIG_DIR` overrides the
directory), then defaults. API keys are never read from or written to these
files; providers take them from their usual environment variables (or a `.env`
file the user names with `load_env_file`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from tiller.approvals import APPROVAL_MODES
from tiller.config import DEFAULT_MODEL, REASONING_EFFORTS, SessionConfig
from tiller.mcp.config import (
    MCP_JSON,
    McpConfigError,
    McpServerConfig,
    load_mcp_json,
    merge_servers,
    servers_from_table,
)
from tiller.mcp.trust import gate as trust_gate
from tiller.transport import TRANSPORTS
from tiller.truncation import limit_for

CONFIG_FILE = "config.toml"
PROFILES = ("anthropic", "openai", "gemini")
TRUNCATION_MODES = ("head_tail", "tail")


class ConfigError(Exception):
    """A config file or environment variable Tiller cannot use; the message says where."""


# -- where things live ---------------------------------------------------------------------


def user_config_path() -> Path:
    """The user's config file (`TILLER_CONFIG_DIR` overrides its directory)."""
    directory = os.environ.get("TILLER_CONFIG_DIR") or user_config_dir("tiller")
    return Path(directory) / CONFIG_FILE


def project_config_path(root: Path) -> Path:
    """The project's config file under the workspace root."""
    return Path(root) / ".tiller" / CONFIG_FILE


# -- validation ----------------------------------------------------------------------------


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


def _profile(value: Any) -> str | None:
    return None if value in PROFILES else f"one of {', '.join(PROFILES)}"


def _transport(value: Any) -> str | None:
    return None if value in TRANSPORTS else f"one of {', '.join(TRANSPORTS)}"


def _reasoning(value: Any) -> str | None:
    return None if value in REASONING_EFFORTS else f"one of {', '.join(REASONING_EFFORTS)}"


def _positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else "an integer >= 1"


def _non_negative_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "an integer >= 0"


def _ratio(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1
    return None if ok else "a number in (0, 1]"


def _seconds(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    return None if ok else "a number of seconds > 0"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _verify(value: Any) -> str | None:
    ok = isinstance(value, bool) or (isinstance(value, str) and value.strip() != "")
    return None if ok else "true, false or the path of a CA certificate file or directory"


def _string_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    return None if ok else "a list of paths (strings)"


def _approval(value: Any) -> str | None:
    return None if value in APPROVAL_MODES else f"one of {', '.join(APPROVAL_MODES)}"


def _commands(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
    return None if ok else "a list of command patterns (strings)"


THEMES = (
    "textual-dark",
    "textual-light",
    "nord",
    "gruvbox",
    "catppuccin-mocha",
    "dracula",
    "tokyo-night",
    "monokai",
    "flexoki",
    "catppuccin-latte",
    "catppuccin-frappe",
    "catppuccin-macchiato",
    "solarized-light",
    "solarized-dark",
    "rose-pine",
    "rose-pine-moon",
    "rose-pine-dawn",
    "atom-one-dark",
    "atom-one-light",
    "ansi-dark",
    "ansi-light",
)
"""Textual's built-in themes (a test keeps the list equal to Textual's; settings never
import Textual)."""


def _theme(value: Any) -> str | None:
    return None if value in THEMES else "one of " + ", ".join(THEMES)


def _mode(value: Any) -> str | None:
    return None if value in TRUNCATION_MODES else f"one of {', '.join(TRUNCATION_MODES)}"


Check = Callable[[Any], "str | None"]

_TOP: dict[str, Check] = {
    "model": _string,
    "profile": _profile,
    "max_turns": _positive_int,
    "skills_dirs": _string_list,
    "api_base": _string,
    "ssl_verify": _verify,
    "transport": _transport,
    "theme": _theme,
    "reasoning": _reasoning,
}
_LIMITS: dict[str, Check] = {
    "loop_detection_window": _positive_int,
    "max_subagent_depth": _non_negative_int,
    "context_warning_ratio": _ratio,
    "compact_ratio": _ratio,
    "compact_keep_tokens": _positive_int,
    "default_context_window": _positive_int,
    "parallel_tools": _boolean,
    "stall_timeout": _seconds,
}
_TRUNCATION: dict[str, Check] = {"chars": _positive_int, "mode": _mode, "lines": _positive_int}


def _sandbox_mode(value: Any) -> str | None:
    from tiller.shell.confinement import SANDBOX_MODES

    return None if value in SANDBOX_MODES else "one of " + ", ".join(SANDBOX_MODES)


_SHELL: dict[str, Check] = {
    "enabled": _boolean,
    "allow": _commands,
    "timeout_ms": _positive_int,
    "approval": _approval,
    "sandbox": _sandbox_mode,
    "network": _boolean,
}
_TRUSTED_ONLY = ("allow", "approval", "sandbox", "network")
"""Shell keys a project's own config may not set: a repository must not approve its own
commands, lift their confinement or open the network to them."""


def _check_table(
    table: Mapping[str, Any], schema: Mapping[str, Check], where: str, prefix: str = ""
) -> None:
    for key, value in table.items():
        check = schema.get(key)
        if check is None:
            known = ", ".join(sorted(schema))
            raise ConfigError(f"{where}: unknown key {prefix}{key!r} (known: {known})")
        problem = check(value)
        if problem:
            raise ConfigError(f"{where}: {prefix}{key} must be {problem}, got {value!r}")


def validate(data: Mapping[str, Any], where: str) -> None:
    """Raise `ConfigError` naming `where` and the key when `data` is not a valid config."""
    sections = ("limits", "shell", "mcp_servers")
    _check_table({k: v for k, v in data.items() if k not in sections}, _TOP, where)
    if "mcp_servers" in data:
        try:
            servers_from_table(data["mcp_servers"], where, trusted=True)
        except McpConfigError as exc:
            raise ConfigError(str(exc)) from None
    shell = data.get("shell", {})
    if not isinstance(shell, dict):
        raise ConfigError(f"{where}: [shell] must be a table")
    _check_table(shell, _SHELL, where, "shell.")
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigError(f"{where}: [limits] must be a table")
    _check_table({k: v for k, v in limits.items() if k != "truncation"}, _LIMITS, where, "limits.")
    truncation = limits.get("truncation", {})
    if not isinstance(truncation, dict):
        raise ConfigError(f"{where}: [limits.truncation] must be a table of tools")
    for tool, table in truncation.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [limits.truncation.{tool}] must be a table")
        _check_table(table, _TRUNCATION, where, f"limits.truncation.{tool}.")


def load_config_file(path: Path, *, base: Path | None = None) -> dict[str, Any]:
    """Read and validate one config file; `{}` when it does not exist.

    Args:
        path: the TOML file.
        base: what relative `skills_dirs` are relative to (default: the file's folder).

    Raises:
        ConfigError: the file cannot be read, is not TOML, or has a bad key or value.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    validate(data, str(path))
    if "skills_dirs" in data:
        anchor = base if base is not None else path.parent
        data["skills_dirs"] = [anchor / Path(d).expanduser() for d in data["skills_dirs"]]
    return data


_TOP_LEVEL_THEME = re.compile(r"^theme\s*=.*$", re.MULTILINE)


def remember_theme(name: str, path: Path | None = None) -> None:
    """Write `theme = "name"` into the user's config file (the TUI calls it on a change).

    Everything else in the file stays as it was: an existing top-level `theme` line is
    replaced, otherwise the line goes first (top-level keys precede every table).

    Raises:
        ConfigError: `name` is not a known theme, or the file cannot be written.
    """
    problem = _theme(name)
    if problem:
        raise ConfigError(f"theme must be {problem}, got {name!r}")
    path = path if path is not None else user_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    line = f'theme = "{name}"'
    first_table = re.search(r"^\s*\[", text, re.MULTILINE)
    top = text[: first_table.start()] if first_table else text
    if _TOP_LEVEL_THEME.search(top):
        text = _TOP_LEVEL_THEME.sub(line, top, count=1) + text[len(top) :]
    else:
        text = f"{line}\n{text}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc}") from None


# -- environment ---------------------------------------------------------------------------

ENV_VARS = {
    "TILLER_MODEL": "model",
    "TILLER_PROFILE": "profile",
    "TILLER_MAX_TURNS": "max_turns",
    "TILLER_API_BASE": "api_base",
    "TILLER_SSL_VERIFY": "ssl_verify",
    "TILLER_TRANSPORT": "transport",
    "TILLER_SKILLS_DIRS": "skills_dirs",
    "TILLER_THEME": "theme",
    "TILLER_REASONING": "reasoning",
}


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    shell = env.get("TILLER_SHELL", "").strip().lower()
    if shell:
        if shell not in _TRUE + _FALSE:
            raise ConfigError(f"TILLER_SHELL must be 1 or 0 (true/false), got {shell!r}")
        data["shell"] = {"enabled": shell in _TRUE}
    for name, key in ENV_VARS.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        if key == "max_turns":
            try:
                data[key] = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be an integer >= 1, got {raw!r}") from None
        elif key == "skills_dirs":
            data[key] = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
            continue
        else:
            data[key] = raw
        problem = _TOP[key](data[key])
        if problem:
            raise ConfigError(f"{name} must be {problem}, got {raw!r}")
    return data


def load_env_file(path: Path) -> list[str]:
    """Load a `.env` file the user pointed to into `os.environ` (set variables win).

    Returns:
        The names of the variables it set (never their values).

    Raises:
        ConfigError: the file does not exist.
    """
    from dotenv import dotenv_values

    from tiller.shell.confinement import hide

    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such .env file")
    hide(path)  # it holds keys: a command must not `cat` it
    loaded = []
    for name, value in dotenv_values(path).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
            loaded.append(name)
    return loaded


# -- the result ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration after every layer is applied.

    Attributes:
        model: the litellm model id to use.
        profile: `anthropic`, `openai`, `gemini`, or None (from the model).
        max_turns: model round-trips per prompt, or None when nothing set it.
        skills_dirs: where to look for skills, or None for the defaults.
        api_base: the provider endpoint, or None.
        ssl_verify: how to check an HTTPS endpoint's certificate: false, or a CA file or
            directory (`tiller.tls`); None verifies against the system's CAs.
        transport: how to reach the model: `auto` (the lean client for OpenAI-compatible
            endpoints, litellm for the rest), `litellm` (every provider) or `openai`
            (the lean client); None means `auto`.
        theme: the TUI theme name, or None.
        reasoning: the reasoning effort (`none`, `low`, `medium`, `high`), or None for
            the provider's default.
        config: the engine limits (`[limits]`).
        sources: for each key set, where it came from (`flag`, an env var, a file, `default`).
        files: the config files that were read.
        mcp_notes: project MCP entries that were ignored, and why.
    """

    model: str = DEFAULT_MODEL
    profile: str | None = None
    max_turns: int | None = None
    skills_dirs: list[Path] | None = None
    api_base: str | None = None
    ssl_verify: bool | str | None = None
    transport: str | None = None
    theme: str | None = None
    reasoning: str | None = None
    config: SessionConfig = field(default_factory=SessionConfig)
    sources: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    mcp_notes: list[str] = field(default_factory=list)

    def llm_options(self) -> dict[str, Any]:
        """Provider options for `Session(**llm_options)` (`transport` picks the client)."""
        options: dict[str, Any] = {"api_base": self.api_base} if self.api_base else {}
        if self.ssl_verify is not None:
            options["ssl_verify"] = self.ssl_verify
        if self.transport:
            options["transport"] = self.transport
        if self.reasoning:
            options["reasoning_effort"] = self.reasoning  # a `Session` argument of its own
        return options


def _session_config(
    limits: Mapping[str, Any],
    shell: Mapping[str, Any],
    mcp_servers: tuple[McpServerConfig, ...] = (),
) -> SessionConfig:
    truncation = {
        tool: replace(limit_for(tool), **table)
        for tool, table in limits.get("truncation", {}).items()
    }
    scalars = {k: v for k, v in limits.items() if k != "truncation"}
    for key in ("context_warning_ratio", "compact_ratio", "stall_timeout"):
        if key in scalars:
            scalars[key] = float(scalars[key])
    return SessionConfig(
        truncation=truncation,
        shell=bool(shell.get("enabled", False)),
        shell_approval=shell.get("approval", "ask"),
        shell_allow=tuple(shell.get("allow", ())),
        shell_timeout_ms=shell.get("timeout_ms"),
        shell_sandbox=shell.get("sandbox", "bwrap"),
        shell_network=bool(shell.get("network", False)),
        mcp_servers=mcp_servers,
        **scalars,
    )


def _merge_limits(into: dict[str, Any], limits: Mapping[str, Any]) -> None:
    for key, value in limits.items():
        if key == "truncation":
            tools = into.setdefault("truncation", {})
            for tool, table in value.items():
                tools[tool] = {**tools.get(tool, {}), **table}
        else:
            into[key] = value


def load_settings(
    root: Path | None = None,
    *,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Apply defaults, the user config, the project config, the environment, then flags.

    Args:
        root: the workspace root whose `.tiller/config.toml` counts (None: none).
        flags: values given on the command line; None values count as unset.
        env: the environment (default: `os.environ`).

    Raises:
        ConfigError: a bad file, key, value or environment variable, named in the message.
    """
    env = os.environ if env is None else env
    user = user_config_path()
    user_data = load_config_file(user)
    layers: list[tuple[str, Mapping[str, Any]]] = [(str(user), user_data)]
    files = [user] if user.is_file() else []
    user_servers = servers_from_table(user_data.get("mcp_servers", {}), str(user), trusted=True)
    project_servers: list[McpServerConfig] = []
    json_notes: list[str] = []  # .mcp.json entries Tiller cannot use (other tools' file)
    if root is not None:
        project = project_config_path(root)
        project_data = load_config_file(project, base=Path(root))
        trusted = [k for k in _TRUSTED_ONLY if k in project_data.get("shell", {})]
        if trusted:
            raise ConfigError(
                f"{project}: shell.{trusted[0]} may only be set in your user config "
                f"({user}) or with --yes: a repository must not approve its own commands"
            )
        if "api_base" in project_data:
            # The provider's key goes to whatever endpoint is set: a repository must not pick it.
            raise ConfigError(
                f"{project}: api_base may only be set in your user config ({user}), "
                "TILLER_API_BASE or --api-base: a repository must not choose where your API "
                "key is sent"
            )
        if "ssl_verify" in project_data:
            # Which certificates to trust decides who can read the key on the way.
            raise ConfigError(
                f"{project}: ssl_verify may only be set in your user config ({user}) or "
                "TILLER_SSL_VERIFY: a repository must not choose which certificates your API "
                "key is sent past"
            )
        layers.append((str(project), project_data))
        if project.is_file():
            files.append(project)
        mcp_json = Path(root) / MCP_JSON
        try:
            project_servers = servers_from_table(
                project_data.get("mcp_servers", {}), str(project), trusted=False
            ) + load_mcp_json(mcp_json, notes=json_notes)
        except McpConfigError as exc:
            raise ConfigError(str(exc)) from None
        if mcp_json.is_file():
            files.append(mcp_json)
    mcp_servers, mcp_notes = merge_servers(user_servers, project_servers)
    mcp_notes = json_notes + mcp_notes
    if root is not None:
        mcp_servers = trust_gate(root, mcp_servers)
    layers.append(("environment", _from_env(env)))
    given = {k: v for k, v in (flags or {}).items() if v is not None and v != []}
    shell_flags = {"enabled": given.pop("shell", None)}
    if given.pop("yes", False):
        shell_flags["approval"] = "allow"
    if given.pop("shell_network", False):
        shell_flags["network"] = True
    unknown = set(given) - set(_TOP)
    if unknown:
        raise ValueError(f"unknown flags: {sorted(unknown)}")
    for key, value in given.items():
        problem = None if key == "skills_dirs" else _TOP[key](value)
        if problem:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} must be {problem}, got {value!r}")
    shell_given = {k: v for k, v in shell_flags.items() if v is not None}
    layers.append(("flag", {**given, **({"shell": shell_given} if shell_given else {})}))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {"model": "default"}
    limits: dict[str, Any] = {}
    shell: dict[str, Any] = {}
    for origin, data in layers:
        for key, value in data.items():
            if key == "limits":
                _merge_limits(limits, value)
                continue
            if key == "shell":
                shell.update(value)
                continue
            if key == "mcp_servers":
                continue
            values[key] = value
            sources[key] = _source_name(origin, key)
    skills = values.pop("skills_dirs", None)
    return Settings(
        **values,
        skills_dirs=[Path(p) for p in skills] if skills is not None else None,
        config=_session_config(limits, shell, mcp_servers),
        sources=sources,
        files=files,
        mcp_notes=mcp_notes,
    )


def _source_name(origin: str, key: str) -> str:
    if origin == "environment":
        return next(name for name, k in ENV_VARS.items() if k == key)
    return origin


def resolve_model(model: str | None = None, *, root: Path | None = None) -> str:
    """The model to use: `model`, then `TILLER_MODEL`, then the config files, then the default.

    Raises:
        ConfigError: a config file that has to be read is broken.
    """
    if model:
        return model
    if os.environ.get("TILLER_MODEL"):
        return os.environ["TILLER_MODEL"]
    paths: Sequence[Path] = [user_config_path()]
    if root is not None:
        paths = [project_config_path(Path(root)), *paths]
    for path in paths:
        found = load_config_file(path).get("model")
        if found:
            return str(found)
    return DEFAULT_MODEL
