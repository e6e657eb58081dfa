"""`tiller sessions list|show|export|rm`; opening journaled sessions for `--resume`/`--continue`.

Importing this module costs only typer; the journal loads when a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tiller.journal import JournalData
    from tiller.session import Session

EXIT_ERROR, EXIT_USAGE = 1, 2

sessions_app = typer.Typer(
    help="Saved sessions: every session is journaled and can be resumed after a crash.",
    no_args_is_help=True,
)

Resume = Annotated[
    str | None,
    typer.Option("--resume", help="Resume a saved session by id (see `tiller sessions list`)."),
]
Continue = Annotated[
    bool,
    typer.Option("--continue", help="Resume the latest session in this workspace root."),
]


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def _one_line(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def for_stdout(text: str) -> str:
    """`text` for standard output: as it is for a pipe, readable for a terminal."""
    import sys

    from tiller.terminal_text import for_stream

    return for_stream(text, sys.stdout)


def _load(session_id: str) -> JournalData:
    from tiller.journal import JournalError, load_journal

    try:
        return load_journal(session_id)
    except JournalError as exc:
        typer.echo(f"tiller: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


@sessions_app.command("list")
def list_sessions(
    root: Annotated[Path | None, typer.Option(help="Only sessions over this root.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List saved sessions, most recent first: id, date, model, root, first prompt, turns."""
    from tiller.journal import list_journals
    from tiller.json_lines import dumps_line
    from tiller.terminal_text import visible

    summaries = list_journals(root)
    if json_out:
        for s in summaries:
            row = {
                "id": s.id,
                "created": s.created,
                "updated": s.updated,
                "model": s.model,
                "root": s.root,
                "first_prompt": s.first_prompt,
                "turns": s.turns,
                "prompts": s.user_turns,
                "path": str(s.path),
            }
            typer.echo(dumps_line(row, compact=False))
        return
    if not summaries:
        typer.echo("No saved sessions.")
        return
    typer.echo(f"{'ID':<12}  {'UPDATED':<16}  {'TURNS':>5}  {'MODEL':<28}  ROOT / FIRST PROMPT")
    for s in summaries:
        typer.echo(
            f"{s.id:<12}  {_when(s.updated):<16}  {s.turns:>5}  "
            f"{visible(_one_line(s.model, 28)):<28}  {visible(s.root or '(in memory)')}"
        )
        # A title is one line read as it is: escapes, `\r` and bidi overrides shown.
        title = visible(_one_line(s.first_prompt, 100))
        typer.echo(f"{'':<12}  {title or '(no prompt yet)'}")


def render_text(data: JournalData) -> str:
    """The conversation as plain text for the terminal."""
    from tiller.history import AssistantTurn, UserTurn

    lines = [
        f"Session {data.id} · {data.model} · {data.root or '(in memory)'}",
        f"Started {_when(data.created)} · {len(data.turns)} turns",
        "",
    ]
    for turn in data.turns:
        if isinstance(turn, UserTurn):
            label = "You" if turn.kind in ("user", "follow_up") else turn.kind.replace("_", " ")
            lines += [f"{label}> {turn.text}", ""]
        elif isinstance(turn, AssistantTurn):
            if turn.text:
                lines += [f"Assistant> {turn.text}", ""]
            lines += [f"  [tool] {c.name} {c.arguments}" for c in turn.tool_calls]
        else:
            for r in turn.results:
                first = r.output[:4000].split("\n")[0]
                status = "error" if r.is_error else "ok"
                lines.append(f"  [{status}] {r.name}: {_one_line(first, 100)}")
            lines.append("")
    usage = data.usage
    cost = "?" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    lines.append(f"Tokens: {usage.input_tokens:,} in, {usage.output_tokens:,} out · cost {cost}")
    if data.files or data.deleted or data.withheld:
        lines.append("Unflushed workspace:")
        lines += [f"  written  {path}" for path in sorted(data.files)]
        lines += [f"  deleted  {path}" for path in sorted(data.deleted)]
        lines += [
            f"  withheld {path} (not journaled: the file {reason})"
            for path, reason in sorted(data.withheld.items())
        ]
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(data: JournalData) -> str:
    """The conversation as Markdown (tool calls and results in fenced blocks)."""
    from tiller.history import AssistantTurn, UserTurn

    out = [
        f"# Tiller session {data.id}",
        "",
        f"- model: `{data.model}`",
        f"- root: `{data.root or '(in memory)'}`",
        f"- started: {_when(data.created)}",
        "",
    ]
    for turn in data.turns:
        if isinstance(turn, UserTurn):
            title = "User" if turn.kind == "user" else f"User ({turn.kind.replace('_', ' ')})"
            out += [f"## {title}", "", turn.text, ""]
        elif isinstance(turn, AssistantTurn):
            out += ["## Assistant", ""]
            if turn.text:
                out += [turn.text, ""]
            for c in turn.tool_calls:
                out += [
                    f"**Tool call** `{c.name}` (`{c.id}`)",
                    "",
                    "```json",
                    c.arguments,
                    "```",
                    "",
                ]
        else:
            for r in turn.results:
                flag = " (error)" if r.is_error else ""
                fence = "````" if "```" in r.output else "```"
                out += [f"**Result** `{r.name}`{flag}", "", fence, r.output, fence, ""]
    return "\n".join(out).rstrip() + "\n"


def to_json(data: JournalData) -> dict[str, Any]:
    """The session as one JSON document: header, turns, overlay (and withheld paths), usage."""
    from tiller.journal import turn_to_dict

    return {
        "id": data.id,
        "header": data.header,
        "turns": [turn_to_dict(t) for t in data.turns],
        "files": data.files,
        "deleted": sorted(data.deleted),
        "withheld": dict(sorted(data.withheld.items())),
        "usage": data.usage.to_dict(),
    }


@sessions_app.command("show")
def show(session_id: Annotated[str, typer.Argument(help="Session id (or a prefix).")]) -> None:
    """Print a saved conversation (`export` gives it unchanged)."""
    from tiller.terminal_text import readable

    # For reading: what the journal holds from outside (model text, output, names)
    # must not drive the terminal; escape sequences are dropped, controls shown.
    typer.echo(readable(render_text(_load(session_id))), nl=False)


@sessions_app.command("export")
def export(
    session_id: Annotated[str, typer.Argument(help="Session id (or a prefix).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="md or json.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export a saved conversation as Markdown or JSON."""
    from tiller.json_lines import dumps, printable

    if fmt not in ("md", "json"):
        typer.echo(f"tiller: unknown format {fmt!r} (use md or json)", err=True)
        raise typer.Exit(EXIT_USAGE)
    data = _load(session_id)
    if fmt == "md":
        text = printable(render_markdown(data))
    else:
        text = dumps(to_json(data), indent=2) + "\n"
    if output is None:
        typer.echo(for_stdout(text), nl=False, color=True)
    else:
        try:
            output.write_text(text, encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            typer.echo(f"tiller: cannot write {output}: {exc.strerror}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        typer.echo(f"tiller: wrote {output}", err=True)


@sessions_app.command("rm")
def rm(
    session_ids: Annotated[list[str] | None, typer.Argument(help="Session ids to delete.")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Delete every session.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before --all.")] = False,
) -> None:
    """Delete saved sessions."""
    from tiller.journal import JournalError, delete_journal, list_journals

    if all_sessions:
        summaries = list_journals()
        if not summaries:
            typer.echo("No saved sessions.")
            return
        if not yes and not typer.confirm(f"Delete all {len(summaries)} saved sessions?"):
            raise typer.Exit(EXIT_ERROR)
        ids = [s.id for s in summaries]
    elif session_ids:
        ids = list(session_ids)
    else:
        typer.echo("tiller: give session ids, or --all", err=True)
        raise typer.Exit(EXIT_USAGE)
    failed = False
    for session_id in ids:
        try:
            path = delete_journal(session_id)
        except (JournalError, OSError) as exc:
            typer.echo(f"tiller: {exc}", err=True)
            failed = True
            continue
        typer.echo(f"Deleted {path.stem}")
    if failed:
        raise typer.Exit(EXIT_ERROR)


def resume_id(resume: str | None, continue_: bool, root: Path) -> str | None:
    """The session id `--resume`/`--continue` ask for (None: a new session).

    Raises:
        typer.Exit: both given, or nothing to continue in `root`.
    """
    if resume and continue_:
        typer.echo("tiller: use --resume ID or --continue, not both", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not continue_:
        return resume
    from tiller.journal import latest_for

    latest = latest_for(root)
    if latest is None:
        typer.echo(f"tiller: no saved session to continue in {root}", err=True)
        raise typer.Exit(EXIT_USAGE)
    return latest.id


def _warn(message: str) -> None:
    typer.echo(f"tiller: warning: {message}", err=True)


def open_session(resume: str | None, *, journal: bool = True, **options: Any) -> Session:
    """A session restored from `resume` (options given win, journaled on), else new.

    A new session is journaled at once unless `journal` is False (a front end's
    controller then journals it at its first prompt).

    `root` and `cwd` are ignored when resuming: a session resumes over its own root.
    Options that are None are left to the journal. What the resume could not
    restore (a file holding a credential, interrupted tool calls) is printed to
    stderr as `tiller: warning: ...` lines.
    """
    from tiller.errors import WorkspaceError
    from tiller.journal import Journal, JournalError, restore_session
    from tiller.session import Session

    if resume is None:
        session = Session(**options)
        if journal:
            Journal.attach(session)
        return session
    overrides = {k: v for k, v in options.items() if v is not None and k not in ("root", "cwd")}
    try:
        return restore_session(resume, on_warning=_warn, **overrides)
    except (JournalError, WorkspaceError) as exc:
        typer.echo(f"tiller: cannot resume {resume}: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
