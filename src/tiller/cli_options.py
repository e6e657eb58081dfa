"""The options every entry point takes, and how they become a session's arguments.

Each front end (`tiller`, `tiller run`, `tiller chat`) declares the same typer
options (the `Annotated` aliases below) and hands their values to
`resolve_options`, which applies the settings precedence: flags, environment,
project config, user config, defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from tiller import __version__
from tiller.settings import ConfigError, Settings, load_env_file, load_settings

FRONT_END_MAX_TURNS = 50
EXIT_USAGE = 2

Model = Annotated[
    str | None,
    typer.Option("--model", "-m", help="litellm model id (env TILLER_MODEL; config key model)."),
]
Profile = Annotated[
    str | None, typer.Option(help="Tool/prompt profile: anthropic, openai or gemini.")
]
MaxTurns = Annotated[
    int | None,
    typer.Option(help=f"Model round-trips per prompt (default {FRONT_END_MAX_TURNS}).", min=1),
]
Root = Annotated[
    Path | None, typer.Option(help="Workspace root (default: the git root, else the current dir).")
]
SkillsDir = Annotated[
    list[Path] | None, typer.Option("--skills-dir", help="Skills directory (repeatable).")
]
ApiBase = Annotated[
    str | None, typer.Option(help="Base URL of an OpenAI-compatible or provider endpoint.")
]
Transport = Annotated[
    str | None,
    typer.Option(
        help="How to reach the model: auto (default: the lean client for OpenAI-compatible "
        "endpoints, litellm for the rest), litellm (every provider) or openai "
        "(the lean client; env TILLER_TRANSPORT)."
    ),
]
Reasoning = Annotated[
    str | None,
    typer.Option(
        help="Reasoning effort: none, low, medium or high (default: the provider's; "
        "env TILLER_REASONING)."
    ),
]
Shell = Annotated[
    bool | None,
    typer.Option(
        "--shell",
        help="Let the agent run commands in a sandbox copy of the workspace "
        "(env TILLER_SHELL=0/1).",
        show_default=False,
    ),
]
ShellNetwork = Annotated[
    bool,
    typer.Option(
        "--shell-network",
        help="Let shell commands reach the network (off by default; [shell] network = true).",
        show_default=False,
    ),
]
Yes = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Run shell commands without asking.", show_default=False),
]
EnvFile = Annotated[
    Path | None,
    typer.Option(help="Load provider keys from this .env file (set variables win)."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tiller {__version__}")
        raise typer.Exit()


Version = Annotated[
    bool,
    typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
]


def pass_global_options(ctx: typer.Context) -> None:
    """Let `tiller -m X run ...` mean `tiller run -m X ...`: the group's options become
    defaults of the subcommand (and of its subcommands), where it has them."""
    given = {
        name: value
        for name, value in ctx.params.items()
        if name != "version" and value not in (None, False, [], ())
    }
    if given and ctx.invoked_subcommand is not None:
        nested = {**given, "list": given, "validate": given}
        ctx.default_map = {**(ctx.default_map or {}), ctx.invoked_subcommand: nested}


def find_root(start: Path) -> Path:
    """The enclosing git repository's top directory, else `start`."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start


def workspace_location(root: Path | None) -> tuple[Path, str]:
    """(root, cwd relative to it) for where the user stands."""
    here = Path.cwd().resolve()
    base = root.resolve() if root is not None else find_root(here)
    try:
        cwd = here.relative_to(base).as_posix()
    except ValueError:
        cwd = ""
    return base, "" if cwd == "." else cwd


@dataclass(frozen=True, slots=True)
class FrontEndOptions:
    """What a front end needs to start sessions.

    Attributes:
        root: the workspace root on disk.
        cwd: where the user stands, relative to `root`.
        max_turns: model round-trips per prompt (front ends default to 50).
        settings: every resolved setting (model, profile, limits, theme, ...).
    """

    root: Path
    cwd: str
    max_turns: int
    settings: Settings

    @property
    def model(self) -> str:
        """The resolved litellm model id."""
        return self.settings.model

    @property
    def chosen_model(self) -> str | None:
        """The model when a flag, variable or config file chose it; None for the default.

        None lets a resumed session keep its journal's model.
        """
        return None if self.settings.sources.get("model") == "default" else self.settings.model

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Session(**kwargs)`."""
        return {
            "model": self.settings.model,
            "root": self.root,
            "cwd": self.cwd,
            "max_turns": self.max_turns,
            "profile": self.settings.profile,
            "skills_dirs": self.settings.skills_dirs,
            "config": self.settings.config,
            **self.settings.llm_options(),
        }


def resolve_options(
    *,
    model: str | None = None,
    profile: str | None = None,
    max_turns: int | None = None,
    root: Path | None = None,
    skills_dir: list[Path] | None = None,
    api_base: str | None = None,
    env_file: Path | None = None,
    transport: str | None = None,
    shell: bool | None = None,
    yes: bool = False,
    reasoning: str | None = None,
    shell_network: bool = False,
) -> FrontEndOptions:
    """Apply the settings precedence to the global options of an entry point.

    A broken config file or `.env` path is reported on stderr and exits with
    the usage-error code, never as a traceback.
    """
    try:
        if env_file is not None:
            load_env_file(env_file)
        base, cwd = workspace_location(root)
        if not base.is_dir():  # said here: a Session would raise it as a traceback
            typer.echo(f"tiller: --root {root} is not a directory", err=True)
            raise typer.Exit(EXIT_USAGE)
        flags = {
            "model": model,
            "profile": profile,
            "max_turns": max_turns,
            "skills_dirs": skills_dir,
            "api_base": api_base,
            "transport": transport,
            "reasoning": reasoning,
            "shell": shell,
            "yes": yes,
            "shell_network": shell_network,
        }
        settings = load_settings(base, flags=flags)
    except ConfigError as exc:
        typer.echo(f"tiller: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    turns = settings.max_turns or FRONT_END_MAX_TURNS
    return FrontEndOptions(root=base, cwd=cwd, max_turns=turns, settings=settings)
