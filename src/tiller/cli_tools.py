"""`tiller skills list|validate` and `tiller doctor`."""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tiller.cli_options import (
    ApiBase,
    EnvFile,
    Model,
    Root,
    Shell,
    ShellNetwork,
    SkillsDir,
    Transport,
    Yes,
    resolve_options,
)
from tiller.skills import SKILL_FILE, Skill, SkillDiagnostic, default_skill_dirs, discover_skills
from tiller.terminal_text import readable, visible
from tiller.tls import verify_setting

if TYPE_CHECKING:
    from tiller.config import SessionConfig

skills_app = typer.Typer(help="List and check skills (SKILL.md folders).", no_args_is_help=True)

PACKAGES = ("tiller", "litellm", "textual", "typer")
_KEY_NAME = re.compile(r"[A-Z0-9_]*_API_KEY")


def _skill_dirs(root: Path | None, skills_dir: list[Path] | None) -> list[Path]:
    opts = resolve_options(root=root, skills_dir=skills_dir)
    return opts.settings.skills_dirs or default_skill_dirs(opts.root)


def _print_diagnostics(diagnostics: list[SkillDiagnostic]) -> None:
    for d in diagnostics:
        message = f"{d.severity}: {visible(str(d.path))}: {readable(d.message)}"
        typer.echo(message, err=d.severity == "error")


def _summary(skills: list[Skill], diagnostics: list[SkillDiagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{len(skills)} skill(s), {errors} error(s), {warnings} warning(s)"


@skills_app.command("list")
def list_skills(root: Root = None, skills_dir: SkillsDir = None) -> None:
    """List the skills the agent would see: name, source, description and path."""
    skills, diagnostics = discover_skills(_skill_dirs(root, skills_dir))
    for skill in skills:
        # A skill comes from the repository: its name and text are shown, never obeyed.
        description = " ".join(readable(skill.description).split())
        typer.echo(f"{visible(skill.name)}  [{skill.source}]  {description}")
        typer.echo(f"    {visible(str(skill.path))}")
    _print_diagnostics(diagnostics)
    typer.echo(_summary(skills, diagnostics))


def _targets(paths: list[Path]) -> tuple[list[Path], set[Path] | None]:
    """Skill directories to scan and, when single skills were named, their SKILL.md files."""
    dirs: list[Path] = []
    wanted: set[Path] = set()
    for path in paths:
        if path.name == SKILL_FILE:
            path = path.parent
        if (path / SKILL_FILE).is_file():
            dirs.append(path.parent)
            wanted.add((path / SKILL_FILE).resolve())
        elif path.is_dir():
            dirs.append(path)
            wanted.update(p.resolve() for p in path.glob(f"*/{SKILL_FILE}"))
        else:
            typer.echo(f"tiller: no skill or skills directory at {path}", err=True)
            raise typer.Exit(2)
    return dirs, wanted


@skills_app.command("validate")
def validate_skills(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="SKILL.md files, skill folders or skills directories."),
    ] = None,
    root: Root = None,
    skills_dir: SkillsDir = None,
) -> None:
    """Check SKILL.md files; exit 1 when any has an error (warnings do not fail)."""
    if paths:
        dirs, wanted = _targets(paths)
        # Each directory is checked on its own, so shadowing across them is not reported.
        skills: list[Skill] = []
        diagnostics: list[SkillDiagnostic] = []
        for directory in dirs:
            found, problems = discover_skills([directory])
            skills += [s for s in found if s.path.resolve() in wanted]
            diagnostics += [d for d in problems if d.path.resolve() in wanted]
    else:
        skills, diagnostics = discover_skills(_skill_dirs(root, skills_dir))
    for skill in skills:
        typer.echo(f"ok: {visible(skill.name)} ({visible(str(skill.path))})")
    _print_diagnostics(diagnostics)
    typer.echo(_summary(skills, diagnostics))
    if any(d.severity == "error" for d in diagnostics):
        raise typer.Exit(1)


def _version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _model_check(model: str) -> str:
    from tiller.llm import LiteLLMClient

    try:
        window = LiteLLMClient().context_window(model)
    except Exception as exc:  # a broken litellm install is a finding, not a crash
        return f"could not check ({type(exc).__name__})"
    if window is None:
        return "not in litellm's model map (fine for local servers and new models)"
    return f"known to litellm ({window:,}-token context window)"


def _shell_state(config: SessionConfig) -> str:
    from tiller.shell.confinement import describe, unavailable

    if not config.shell:
        return "off (--shell or [shell] enabled = true turns it on)"
    missing = unavailable(config.shell_sandbox)
    if missing is not None:
        return f"NOT AVAILABLE. {missing}"
    approval = {
        "ask": "asks before each command not on the read-only or allow list",
        "allow": "runs every command (--yes)",
    }
    how = approval.get(config.shell_approval, "runs only read-only and allow-listed commands")
    allowed = f"; allow-list: {', '.join(config.shell_allow)}" if config.shell_allow else ""
    return f"on, {how}{allowed}; {describe(config.shell_sandbox, config.shell_network)}"


def doctor(
    model: Model = None,
    root: Root = None,
    api_base: ApiBase = None,
    transport: Transport = None,
    env_file: EnvFile = None,
    shell: Shell = None,
    yes: Yes = False,
    shell_network: ShellNetwork = False,
    check_model: Annotated[
        bool,
        typer.Option(help="Ask litellm whether the model is known (imports litellm: slow)."),
    ] = True,
) -> None:
    """Show versions, which provider keys are set (never their values), the model and paths."""
    from tiller.journal import sessions_dir
    from tiller.llm import provider_key_env
    from tiller.settings import project_config_path, user_config_path
    from tiller.transport import resolve_transport

    opts = resolve_options(
        model=model,
        root=root,
        api_base=api_base,
        transport=transport,
        env_file=env_file,
        shell=shell,
        yes=yes,
        shell_network=shell_network,
    )
    settings = opts.settings
    typer.echo(f"Python    {platform.python_version()} ({sys.executable})")
    for package in PACKAGES:
        typer.echo(f"{package:<9} {_version_of(package)}")

    typer.echo("")
    source = settings.sources.get("model", "default")
    # A project's config (a cloned repository's) may set these: shown, never obeyed.
    typer.echo(f"Model     {visible(settings.model)}  (from {source})")
    if check_model:
        typer.echo(f"          {_model_check(settings.model)}")
    needed = provider_key_env(settings.model)
    if needed:
        state = "set" if os.environ.get(needed) else "NOT set"
        typer.echo(f"          needs {needed}: {state}")
    if settings.api_base:
        typer.echo(f"API base  {visible(settings.api_base)}")
    if settings.ssl_verify is not None:
        verify = verify_setting(settings.ssl_verify)
        shown = {True: "system CAs", False: "OFF (any certificate)"}.get(verify, f"CA {verify}")
        source = settings.sources["ssl_verify"]
        typer.echo(f"TLS       {visible(shown)}  (ssl_verify, from {source})")
    chosen = settings.transport or "auto"
    used = resolve_transport(chosen, settings.model, settings.api_base)
    how = "lean OpenAI-compatible client" if used == "openai" else "every provider"
    typer.echo(f"Transport {used}  ({how}; setting {chosen})")
    keys = sorted(n for n, v in os.environ.items() if _KEY_NAME.fullmatch(n) and v)
    typer.echo(f"Keys set  {', '.join(keys) if keys else 'none'}")

    shell_line = f"Shell     {_shell_state(settings.config)}"
    alarming = "UNCONFINED" in shell_line or "NOT AVAILABLE" in shell_line
    typer.echo(typer.style(shell_line, fg="red") if alarming else shell_line)
    from tiller.cli_mcp import mcp_summary

    typer.echo(f"MCP       {readable(mcp_summary(settings.config.mcp_servers))}")
    for note in settings.mcp_notes:
        typer.echo(f"          note: {readable(note)}")

    typer.echo("")
    for label, path in (
        ("User config", user_config_path()),
        ("Project config", project_config_path(opts.root)),
    ):
        typer.echo(f"{label:<15} {path} ({'found' if path.is_file() else 'absent'})")
    typer.echo(f"{'Sessions':<15} {sessions_dir()}")
