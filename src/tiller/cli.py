"""The `tiller` command: the TUI by default, `run` for headless use.

Exit codes of `tiller run`: 0 success, 1 error (provider, auth, flush conflict),
2 usage error, 3 turn limit reached, 130 interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tiller import __version__
from tiller.cli_sessions import Continue, Resume, open_session, resume_id, sessions_app

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_TURN_LIMIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
FRONT_END_MAX_TURNS = 50

app = typer.Typer(
    name="tiller",
    help="A coding agent that edits an in-memory workspace you can see, steer, undo and flush.",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sessions_app, name="sessions")

Model = Annotated[
    str | None, typer.Option("--model", "-m", help="litellm model id.", envvar="TILLER_MODEL")
]
Profile = Annotated[
    str | None, typer.Option(help="Tool/prompt profile: anthropic, openai or gemini.")
]
MaxTurns = Annotated[int, typer.Option(help="Model round-trips per prompt.", min=1)]
Root = Annotated[
    Path | None, typer.Option(help="Workspace root (default: the git root, else the current dir).")
]
SkillsDir = Annotated[
    list[Path] | None, typer.Option("--skills-dir", help="Skills directory (repeatable).")
]
ApiBase = Annotated[
    str | None, typer.Option(help="Base URL of an OpenAI-compatible or provider endpoint.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tiller {__version__}")
        raise typer.Exit()


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


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    model: Model = None,
    profile: Profile = None,
    max_turns: MaxTurns = FRONT_END_MAX_TURNS,
    root: Root = None,
    skills_dir: SkillsDir = None,
    api_base: ApiBase = None,
    resume: Resume = None,
    continue_: Continue = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Open the TUI on the current directory (or run a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    from tiller.tui import run_tui

    base, cwd = workspace_location(root)
    run_tui(
        model=model,
        root=base,
        cwd=cwd,
        max_turns=max_turns,
        api_base=api_base,
        profile=profile,
        skills_dirs=skills_dir,
        resume=resume_id(resume, continue_, base),
    )


@app.command()
def run(
    prompt: Annotated[str, typer.Argument(help="The task; '-' reads it from stdin.")],
    model: Model = None,
    profile: Profile = None,
    max_turns: MaxTurns = FRONT_END_MAX_TURNS,
    root: Root = None,
    skills_dir: SkillsDir = None,
    api_base: ApiBase = None,
    json_events: Annotated[
        bool, typer.Option("--json", help="Stream every event as one JSON line.")
    ] = False,
    output_last_message: Annotated[
        Path | None, typer.Option(help="Also write the final answer to this file.")
    ] = None,
    diff: Annotated[Path | None, typer.Option(help="Write the workspace patch here.")] = None,
    flush: Annotated[bool, typer.Option(help="Write the changes to disk at the end.")] = False,
    resume: Resume = None,
    continue_: Continue = False,
) -> None:
    """Run one prompt headless and print the final answer."""
    from tiller.errors import AuthError, FlushConflict

    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        typer.echo("tiller: empty prompt", err=True)
        raise typer.Exit(EXIT_USAGE)
    base, cwd = workspace_location(root)
    options = {"api_base": api_base} if api_base else {}
    session = open_session(
        resume_id(resume, continue_, base),
        model=model,
        root=base,
        cwd=cwd,
        max_turns=max_turns,
        profile=profile,
        skills_dirs=skills_dir,
        **options,
    )
    if json_events:
        session.subscribe(lambda event: print(event.to_json(), flush=True))
    try:
        reply = session.send(text)
    except AuthError as exc:
        typer.echo(f"tiller: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        session.cancel()
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not json_events:
        typer.echo(reply.text)
    if output_last_message is not None:
        output_last_message.write_text(reply.text, encoding="utf-8")
    if diff is not None:
        diff.write_text(session.workspace.diff(), encoding="utf-8")
    code = EXIT_OK
    if reply.stop_reason == "error":
        typer.echo(f"tiller: {reply.error}", err=True)
        code = EXIT_ERROR
    elif reply.stop_reason == "turn_limit":
        typer.echo(f"tiller: stopped after {max_turns} rounds (--max-turns)", err=True)
        code = EXIT_TURN_LIMIT
    if flush:
        try:
            written = session.workspace.flush()
        except FlushConflict as exc:
            typer.echo(f"tiller: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        typer.echo(f"tiller: wrote {len(written)} file(s)", err=True)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    # Answer --version before typer's import cost when it is the only argument.
    if sys.argv[1:] == ["--version"]:
        print(f"tiller {__version__}")
        return
    app()
