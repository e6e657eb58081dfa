"""The `tiller` command: the TUI by default, `run` for headless use.

Exit codes of `tiller run`: 0 success, 1 error (provider, auth, flush conflict),
2 usage error, 3 turn limit reached, 130 interrupted, 141 standard output closed
(its reader hung up, as `head -1` does: the run stops and nothing is flushed),
143 terminated (SIGTERM stops the run at its next safe point, like Ctrl+C).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from tiller import __version__
from tiller.cli_batch import batch_app
from tiller.cli_mcp import mcp_app
from tiller.cli_options import (
    FRONT_END_MAX_TURNS,
    ApiBase,
    EnvFile,
    MaxTurns,
    Model,
    Profile,
    Reasoning,
    Root,
    Shell,
    ShellNetwork,
    SkillsDir,
    Transport,
    Version,
    Yes,
    find_root,
    pass_global_options,
    resolve_options,
    workspace_location,
)
from tiller.cli_sessions import (
    Continue,
    Resume,
    for_stdout,
    open_session,
    resume_id,
    sessions_app,
)
from tiller.cli_tools import doctor, skills_app
from tiller.terminal_text import readable, visible

if TYPE_CHECKING:
    from tiller.events import Event

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_TURN_LIMIT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_BROKEN_PIPE, EXIT_TERMINATED = 141, 143
__all__ = ["FRONT_END_MAX_TURNS", "app", "find_root", "main", "workspace_location"]


class _PromptOrCommand(TyperGroup):
    """`tiller fix the bug` is a prompt for the TUI, `tiller run ...` a subcommand.

    The first word that is not an option and not a subcommand starts the prompt (it
    and every word after it); a lone word that looks like a mistyped subcommand
    (`tiller sesions`) is still refused as one.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, self._options_first(ctx, args))
        words = [*ctx._protected_args, *ctx.args]
        if not words or words[0] in self.commands:
            return rest
        if len(words) == 1 and get_close_matches(words[0], list(self.commands), n=1, cutoff=0.8):
            return rest  # click says "No such command" and names the near one
        ctx.meta[PROMPT_KEY] = " ".join(words)
        ctx._protected_args, ctx.args = [], []
        return []

    def _options_first(self, ctx: typer.Context, args: list[str]) -> list[str]:
        """`tiller "fix it" --model m` as `tiller --model m "fix it"` (a prompt, not a command)."""
        takes_value = {
            name: not getattr(param, "is_flag", False)
            for param in self.get_params(ctx)
            for name in getattr(param, "opts", [])
        }
        options: list[str] = []
        words: list[str] = []
        given = iter(args)
        for arg in given:
            if arg == "--":
                words.extend(given)
            elif arg.startswith("-") and len(arg) > 1:
                options.append(arg)
                value = next(given, None) if takes_value.get(arg) and "=" not in arg else None
                if value is not None:
                    options.append(value)
            else:
                words.append(arg)
        if not words or words[0] in self.commands:
            return args
        return [*options, "--", *words]


PROMPT_KEY = "tiller.prompt"

app = typer.Typer(
    cls=_PromptOrCommand,
    name="tiller",
    subcommand_metavar="[PROMPT] | COMMAND [ARGS]...",
    help="A coding agent that edits an in-memory workspace you can see, steer, undo and flush.",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    add_completion=True,
)
app.add_typer(skills_app, name="skills")
app.command()(doctor)
app.add_typer(sessions_app, name="sessions")
app.add_typer(batch_app, name="batch")
app.add_typer(mcp_app, name="mcp")


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    model: Model = None,
    profile: Profile = None,
    max_turns: MaxTurns = None,
    root: Root = None,
    skills_dir: SkillsDir = None,
    api_base: ApiBase = None,
    transport: Transport = None,
    reasoning: Reasoning = None,
    shell: Shell = None,
    yes: Yes = False,
    shell_network: ShellNetwork = False,
    env_file: EnvFile = None,
    version: Version = False,
    resume: Resume = None,
    continue_: Continue = False,
    print_: Annotated[
        bool,
        typer.Option(
            "--print",
            "-p",
            help="Run the prompt headless and print the answer (as `tiller run`).",
        ),
    ] = False,
) -> None:
    """Open the TUI on the current directory, sending PROMPT if one is given.

    `tiller -p PROMPT`, and any `tiller` whose standard input is not a terminal
    (`echo PROMPT | tiller`), runs headless instead, like `tiller run`: piped text
    is the prompt, or is added under PROMPT when both are given.
    """
    if ctx.invoked_subcommand is not None:
        pass_global_options(ctx)
        return
    prompt: str | None = ctx.meta.get(PROMPT_KEY)
    if print_ or not sys.stdin.isatty():
        piped = "" if sys.stdin.isatty() else sys.stdin.read()
        text = "\n\n".join(part for part in (prompt, piped.strip("\n")) if part)
        ctx.invoke(
            run,
            prompt=text,
            model=model,
            profile=profile,
            max_turns=max_turns,
            root=root,
            skills_dir=skills_dir,
            api_base=api_base,
            transport=transport,
            reasoning=reasoning,
            shell=shell,
            yes=yes,
            shell_network=shell_network,
            env_file=env_file,
            resume=resume,
            continue_=continue_,
        )
        return
    from tiller.tui import run_tui

    opts = resolve_options(
        model=model,
        profile=profile,
        max_turns=max_turns,
        root=root,
        skills_dir=skills_dir,
        api_base=api_base,
        transport=transport,
        reasoning=reasoning,
        shell=shell,
        yes=yes,
        shell_network=shell_network,
        env_file=env_file,
    )
    run_tui(
        model=opts.chosen_model,
        root=opts.root,
        cwd=opts.cwd,
        max_turns=opts.max_turns,
        api_base=opts.settings.api_base,
        transport=opts.settings.transport,
        reasoning=opts.settings.reasoning,
        profile=opts.settings.profile,
        skills_dirs=opts.settings.skills_dirs,
        resume=resume_id(resume, continue_, opts.root),
        config=opts.settings.config,
        theme=opts.settings.theme,
        prompt=prompt,
    )


@app.command()
def run(
    prompt: Annotated[str, typer.Argument(help="The task; '-' reads it from stdin.")],
    model: Model = None,
    profile: Profile = None,
    max_turns: MaxTurns = None,
    root: Root = None,
    skills_dir: SkillsDir = None,
    api_base: ApiBase = None,
    transport: Transport = None,
    reasoning: Reasoning = None,
    shell: Shell = None,
    yes: Yes = False,
    shell_network: ShellNetwork = False,
    env_file: EnvFile = None,
    version: Version = False,
    json_events: Annotated[
        bool, typer.Option("--json", help="Stream every event as one JSON line.")
    ] = False,
    output_last_message: Annotated[
        Path | None, typer.Option(help="Also write the final answer to this file.")
    ] = None,
    diff: Annotated[Path | None, typer.Option(help="Write the workspace patch here.")] = None,
    flush: Annotated[
        bool,
        typer.Option(help="Write the changes to disk at the end, if the run completed."),
    ] = False,
    resume: Resume = None,
    continue_: Continue = False,
) -> None:
    """Run one prompt headless and print the final answer."""
    from tiller.errors import AuthError, FlushConflict, WorkspaceError

    text = sys.stdin.read() if prompt == "-" else prompt
    if not text.strip():
        typer.echo("tiller: empty prompt", err=True)
        raise typer.Exit(EXIT_USAGE)
    for option, target in (("--diff", diff), ("--output-last-message", output_last_message)):
        problem = _unwritable(target) if target is not None else None
        if problem is not None:  # said now, not after the run spent its tokens
            typer.echo(f"tiller: cannot write {option} {target}: {problem}", err=True)
            raise typer.Exit(EXIT_USAGE)
    opts = resolve_options(
        model=model,
        profile=profile,
        max_turns=max_turns,
        root=root,
        skills_dir=skills_dir,
        api_base=api_base,
        transport=transport,
        reasoning=reasoning,
        shell=shell,
        yes=yes,
        shell_network=shell_network,
        env_file=env_file,
    )
    _preload_litellm_if(opts.settings.transport, opts.settings.model, opts.settings.api_base)
    config = opts.settings.config
    if config.shell_approval == "ask":
        # Nobody can answer a question in a headless run: only the allow-list runs.
        config = replace(config, shell_approval="deny")
    saved = resume_id(resume, continue_, opts.root)
    session = open_session(
        saved,
        model=opts.chosen_model,
        root=opts.root,
        cwd=opts.cwd,
        max_turns=opts.max_turns,
        profile=opts.settings.profile,
        skills_dirs=opts.settings.skills_dirs,
        config=config,
        journal=False,
        **opts.settings.llm_options(),
    )
    # A resumed session may keep its journal's model: load litellm now if that needs it.
    _preload_litellm_if(session.transport, session.model, session.llm_options.get("api_base"))
    session.subscribe(_collect_after_first_call())
    from tiller.chat import Chat, Notice

    # Headless runs one session: the controller never builds another, it only readies this one.
    controller = Chat(lambda _workspace, _saved: session, journal=True)
    controller.adopt(session, journaled=saved is not None)
    ready = controller.begin(text)
    if isinstance(ready, Notice):
        session.close()
        typer.echo(f"tiller: {ready.text}", err=True)
        raise typer.Exit(EXIT_USAGE)
    outcome: dict[str, Any] = {"stop_reason": "error"}
    reader_gone = threading.Event()
    terminated = threading.Event()
    try:
        if json_events:
            from tiller.json_lines import line_printer
            from tiller.redaction import Redactor, secret_values

            redactor = Redactor(secret_values(session.llm_options))
            printer = line_printer(sys.stdout, redactor)
            session.subscribe(_until_reader_leaves(printer, session, reader_gone))
        elif sys.stderr.isatty():
            from tiller.cli_progress import progress_line

            session.subscribe(progress_line(sys.stderr))
        if session.shell_unavailable:
            typer.echo(f"tiller: {session.shell_unavailable}", err=True)
        try:
            with _cancel_on_sigterm(session, terminated):
                reply = session.send(ready)
        except AuthError as exc:
            typer.echo(f"tiller: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            session.cancel()
            outcome["stop_reason"] = "cancelled"
            typer.echo("tiller: interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            # However the run ended (an auth error and Ctrl-C included), the patch is left.
            if diff is not None:
                _write_output("--diff", diff, session.workspace.diff())
                for note in session.workspace.diff_notes():
                    typer.echo(f"tiller: {readable(note)}", err=True)
        outcome.update(stop_reason=reply.stop_reason, rounds=reply.rounds)
        if not json_events:
            try:
                # color=True: click would strip colour codes from a pipe (the answer is data).
                typer.echo(for_stdout(reply.text), color=True)
            except OSError:  # EPIPE: the reader left before the answer; it asked for no flush
                reader_gone.set()
        if output_last_message is not None:
            _write_output("--output-last-message", output_last_message, reply.text)
        code = EXIT_OK
        if terminated.is_set():
            typer.echo("tiller: terminated", err=True)
            code = EXIT_TERMINATED
        elif reader_gone.is_set():
            typer.echo("tiller: standard output was closed; the run stopped", err=True)
            code = EXIT_BROKEN_PIPE
        elif reply.stop_reason == "error":
            typer.echo(f"tiller: {readable(str(reply.error))}", err=True)
            code = EXIT_ERROR
        elif reply.stop_reason == "turn_limit":
            typer.echo(f"tiller: stopped after {opts.max_turns} rounds (--max-turns)", err=True)
            code = EXIT_TURN_LIMIT
        elif reply.stop_reason == "cancelled":
            typer.echo("tiller: interrupted", err=True)
            code = EXIT_INTERRUPTED
        if flush and code != EXIT_OK:
            # A run that stopped part way left a half-done change: the person decides
            # (resume it, or look at it) before any of it reaches the disk.
            typer.echo(
                "tiller: --flush skipped: the run did not complete; nothing was written",
                err=True,
            )
        elif flush:
            try:
                written = session.workspace.flush()
            except FlushConflict as exc:  # the person's edits win: nothing is written
                names = ", ".join(visible(path) for path in exc.conflicts)
                them = "it" if len(exc.conflicts) == 1 else "them"
                typer.echo(
                    f"tiller: not flushed: {names} changed on disk since Tiller read {them}; "
                    "nothing was written",
                    err=True,
                )
                raise typer.Exit(EXIT_ERROR) from None
            except WorkspaceError as exc:  # a conflict, a path now out of the root, an OS error
                typer.echo(f"tiller: {readable(str(exc))}", err=True)
                raise typer.Exit(EXIT_ERROR) from None
            typer.echo(f"tiller: wrote {len(written)} file(s)", err=True)
        raise typer.Exit(code)
    finally:
        changed = [path for path, _ in session.workspace.changes()]
        session.close()
        if changed:
            typer.echo(f"tiller: {unflushed_summary(len(changed), session.id)}", err=True)
        if json_events and not reader_gone.is_set():
            from tiller.cli_progress import result_record

            record = result_record(session, outcome, changed)
            sys.stdout.write(record + "\n")
            sys.stdout.flush()
        _exit_fast.set()


@contextlib.contextmanager
def _cancel_on_sigterm(session: Any, terminated: threading.Event) -> Iterator[None]:
    """While the block runs, SIGTERM cancels the run at its next safe point (as Ctrl+C
    does) instead of killing the process: nothing is flushed, and the session is named."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return

    def on_sigterm(_signum: int, _frame: Any) -> None:
        terminated.set()
        session.cancel()

    before = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _unwritable(target: Path) -> str | None:
    """Why `target` cannot be written (a missing directory, a directory), or None."""
    parent = target.parent
    if not parent.is_dir():
        return f"no directory {parent}"
    if target.is_dir():
        return "it is a directory"
    if not os.access(parent, os.W_OK) and not os.access(target, os.W_OK):
        return "permission denied"
    return None


def _write_output(option: str, target: Path, text: str) -> None:
    """Write an output file; a failure (the disk changed since the check) is one line."""
    try:
        target.write_text(text, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        typer.echo(f"tiller: cannot write {option} {target}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _until_reader_leaves(
    printer: Callable[[Event], None], session: Any, gone: threading.Event
) -> Callable[[Event], None]:
    """`printer`, until standard output fails: then `gone` is set and the run cancelled,
    since nobody reads what it does (a reader that hung up never asked for a flush)."""

    def on_event(event: Event) -> None:
        if gone.is_set():
            return
        try:
            printer(event)
        except (OSError, ValueError):  # EPIPE, a full disk, a closed stream
            gone.set()
            session.cancel()

    return on_event


def unflushed_summary(count: int, session_id: str) -> str:
    """One line: what `tiller run` left in memory, where it is kept, how to get it back."""
    return (
        f"{count} change(s) not flushed, kept in session {session_id}: "
        f"`tiller --resume {session_id}` opens them (Ctrl+S flushes, Ctrl+X exports); "
        f"`tiller run --resume {session_id} --flush PROMPT` goes on and writes them."
    )


def _preload_litellm_if(transport: str | None, model: str, api_base: str | None) -> None:
    """Start importing litellm on a thread now when the run will need it (~3 s saved)."""
    from tiller.transport import resolve_transport

    try:
        needed = resolve_transport(transport, model, api_base) == "litellm"
    except ValueError:
        return  # said where the session is made
    if needed:
        from tiller.llm import preload_in_background

        preload_in_background(warm=False)


def _collect_after_first_call() -> Callable[[Event], None]:
    """A subscriber that, once the first model call has returned, freezes what start-up
    left (the collector never walks it again) and turns the collector back on."""
    from tiller.events import EventKind

    def on_event(event: Event) -> None:
        if event.kind in (EventKind.USAGE, EventKind.SESSION_END) and not gc.isenabled():
            gc.freeze()
            gc.enable()

    return on_event


# Set once a headless run has closed its session: nothing is left to tear down but
# memory, which a normal exit spends ~1 s collecting after litellm was loaded.
_exit_fast = threading.Event()


def _exit_now(code: object) -> None:
    """Flush what was printed and leave without the interpreter's teardown."""
    if isinstance(code, str):
        sys.stderr.write(code + "\n")
    status = code if isinstance(code, int) else (0 if code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


@app.command()
def chat(
    model: Model = None,
    profile: Profile = None,
    max_turns: MaxTurns = None,
    root: Root = None,
    skills_dir: SkillsDir = None,
    api_base: ApiBase = None,
    transport: Transport = None,
    reasoning: Reasoning = None,
    shell: Shell = None,
    yes: Yes = False,
    shell_network: ShellNetwork = False,
    env_file: EnvFile = None,
    version: Version = False,
    resume: Resume = None,
    continue_: Continue = False,
) -> None:
    """Chat in the plain terminal (a REPL): type while the agent works to steer it."""
    from tiller.repl import Repl

    if not sys.stdin.isatty():
        typer.echo("tiller: chat needs a terminal; for piped input use `tiller run -`", err=True)
        raise typer.Exit(EXIT_USAGE)
    opts = resolve_options(
        model=model,
        profile=profile,
        max_turns=max_turns,
        root=root,
        skills_dir=skills_dir,
        api_base=api_base,
        transport=transport,
        reasoning=reasoning,
        shell=shell,
        yes=yes,
        shell_network=shell_network,
        env_file=env_file,
    )
    options = {
        "cwd": opts.cwd,
        "max_turns": opts.max_turns,
        "profile": opts.settings.profile,
        "skills_dirs": opts.settings.skills_dirs,
        "config": opts.settings.config,
        **opts.settings.llm_options(),
    }

    def make_session(workspace: Any, saved: str | None) -> Any:
        where = {"files": workspace} if workspace is not None else {"root": opts.root}
        return open_session(saved, model=opts.chosen_model, journal=False, **where, **options)

    saved = resume_id(resume, continue_, opts.root)
    session = open_session(saved, model=opts.chosen_model, root=opts.root, journal=False, **options)
    if session.shell_unavailable:
        typer.echo(f"tiller: {session.shell_unavailable}", err=True)
    repl = Repl(session, make_session=make_session, journaled=True, cwd=opts.root / opts.cwd)
    repl.run(hangup_closes=True)


@app.command()
def acp(
    model: Model = None,
    profile: Profile = None,
    max_turns: MaxTurns = None,
    skills_dir: SkillsDir = None,
    api_base: ApiBase = None,
    transport: Transport = None,
    reasoning: Reasoning = None,
    shell: Shell = None,
    yes: Yes = False,
    shell_network: ShellNetwork = False,
    env_file: EnvFile = None,
    version: Version = False,
) -> None:
    """Serve the Agent Client Protocol on stdio, for editors (Zed, toad, ...)."""
    import asyncio

    from tiller.acp_agent import TillerAgent, serve
    from tiller.cli_acp import session_builders
    from tiller.settings import load_env_file

    if sys.stdout.isatty():
        typer.echo("tiller: acp speaks JSON-RPC on stdout; an editor starts it", err=True)
        raise typer.Exit(EXIT_USAGE)
    if env_file is not None:
        load_env_file(env_file)
    flags = {
        "model": model,
        "profile": profile,
        "max_turns": max_turns,
        "skills_dirs": skills_dir or None,
        "api_base": api_base,
        "transport": transport,
        "reasoning": reasoning,
        "shell": shell,
        "yes": yes,
        "shell_network": shell_network,
    }
    new, load = session_builders(flags)
    asyncio.run(serve(TillerAgent(new, load)))


def main() -> None:
    """Console-script entry point."""
    # Answer --version before typer's import cost when it is the only argument.
    if sys.argv[1:] == ["--version"]:
        print(f"tiller {__version__}")
        return
    if sys.argv[1:2] == ["run"]:
        # Start-up allocates millions of long-lived objects (typer, Tiller, litellm and
        # what its first call imports); collecting over them costs ~15% of a one-step
        # run. `_collect_after_first_call` freezes them and turns the collector back on.
        gc.disable()
    try:
        app()
    except SystemExit as done:
        if _exit_fast.is_set():
            _exit_now(done.code)
        raise
