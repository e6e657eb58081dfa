"""`tiller batch TASKS.jsonl --out RESULTS.jsonl` and `tiller batch report RESULTS.jsonl`.

Exit codes of a batch: 0 every task completed, 1 some did not (or the cost limit
left tasks unstarted), 2 usage error (a malformed tasks file), 130 interrupted,
143 terminated (SIGTERM: the running tasks are cancelled as on Ctrl+C).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from typer.core import TyperGroup

from tiller.cli_options import (
    ApiBase,
    EnvFile,
    MaxTurns,
    Model,
    Profile,
    Reasoning,
    Shell,
    ShellNetwork,
    SkillsDir,
    Transport,
    Yes,
    resolve_options,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class _RunByDefault(TyperGroup):
    """`tiller batch TASKS ...` means `tiller batch run TASKS ...`; `report` stays a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        if ctx.default_map:
            # `tiller -m X batch ...`: the options given before `batch` reach `run`.
            given = {k: v for k, v in ctx.default_map.items() if k not in self.commands}
            ctx.default_map = {
                **ctx.default_map,
                "run": {**given, **ctx.default_map.get("run", {})},
            }
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    cls=_RunByDefault,
    help="Run many tasks (one JSON line each) and collect one patch per task: "
    "`tiller batch TASKS.jsonl --out RESULTS.jsonl` (short for `batch run`).",
    no_args_is_help=True,
)


def _progress_columns() -> list[Any]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return [
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[done]} done[/] [red]{task.fields[failed]} failed[/] "
            "[cyan]{task.fields[running]} running[/] ${task.fields[cost]:.4f}"
        ),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]


def _summary_table(results: list[Any], skipped: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    from tiller.batch.report import summarize
    from tiller.terminal_text import readable, visible

    report = summarize(results)
    table = Table(title="tiller batch", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("tasks run", str(report.tasks))
    if skipped:
        table.add_row("skipped (already in --out)", str(skipped))
    # Statuses and errors come from results files and tasks' repositories: plain text
    # (a str cell is Rich markup: `[link=...]` in an error would become a hidden link).
    for status, count in report.by_status.items():
        table.add_row(Text(visible(status)), str(count))
    table.add_row("pass rate", f"{report.pass_rate:.0%}")
    cost = f"${report.cost_usd:.4f}"
    if report.unknown_cost:
        cost += f" (+{report.unknown_cost} unpriced)"
    table.add_row("cost", cost)
    table.add_row("duration p50 / p95", f"{report.p50_s:.1f} s / {report.p95_s:.1f} s")
    table.add_row("files changed", str(report.files_changed))
    for error, count in report.top_errors:
        table.add_row(f"error x{count}", Text(readable(error)))
    return table


@contextlib.contextmanager
def _sigterm_as_interrupt(terminated: threading.Event) -> Iterator[None]:
    """While the block runs, SIGTERM is a Ctrl+C: the running tasks are cancelled and
    their `cancelled` lines (partial patches included) written before the exit."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals
        return

    def on_sigterm(_signum: int, _frame: Any) -> None:
        terminated.set()
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _refuse(message: str) -> NoReturn:
    """Say why the batch cannot start, in one line, and exit with `EXIT_USAGE`."""
    typer.echo(f"tiller: {message}", err=True)
    raise typer.Exit(EXIT_USAGE) from None


def _check_journals() -> None:
    """Refuse to start when no task could be journaled: each would fail, and a resume
    would skip every one of them as finished."""
    from tiller.journal import sessions_dir

    directory = sessions_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = None if os.access(directory, os.W_OK) else "Permission denied"
    except OSError as exc:
        problem = exc.strerror
    if problem is not None:
        _refuse(
            f"cannot keep the tasks' journals in {directory}: {problem}; "
            "set TILLER_DATA_DIR to a directory Tiller can write"
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _check_out(out: Path, tasks_file: Path) -> None:
    """Refuse an --out the batch must not append to, before any task spends tokens.

    Raises:
        typer.Exit: the tasks file itself, a file that is not a results file, or one
            that cannot be written (`EXIT_USAGE`), each said in one line.
    """
    from tiller.batch.results import ResultWriter
    from tiller.batch.tasks import ResultsFileError, read_results

    try:
        mode = out.stat().st_mode
    except OSError:
        mode = None  # missing (created below) or unreachable (said below)
    if mode is not None and not stat.S_ISREG(mode):  # a FIFO or /dev/stdout: reading waits
        _refuse(
            f"--out {out} is not a regular file; results are appended to a file "
            "and read back on resume"
        )
    if _same_file(out, tasks_file):
        _refuse(f"--out {out} is the tasks file; give the results a file of their own")
    try:
        read_results(out)  # checked before the writer below touches it
        ResultWriter(out).close()  # fail now, not after the first task's tokens were spent
    except ResultsFileError as exc:
        _refuse(str(exc))
    except OSError as exc:
        _refuse(f"cannot write results to {out}: {exc.strerror}")


@batch_app.command("run")
def run_command(
    tasks_file: Annotated[Path, typer.Argument(metavar="TASKS.jsonl", help="One task per line.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Results file (appended; resume skips its ids).")
    ],
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Tasks at once (threads: default 8; Ray: the cluster's CPUs)."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run each task as a Ray task: 'auto' (this machine's cluster), an address "
            "(ray://host:10001), or 'local' (start one here). Needs 'tiller[ray]'.",
        ),
    ] = None,
    cpus_per_task: Annotated[
        float, typer.Option(min=0.001, help="Ray CPUs per task (tasks mostly wait on the model).")
    ] = 0.1,
    max_cost: Annotated[
        float | None, typer.Option(help="Stop scheduling new tasks once this many USD are spent.")
    ] = None,
    json_events: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per batch event, no progress bar.")
    ] = False,
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
) -> None:
    """Run every task of TASKS.jsonl that --out has no result for; append one line each."""
    from rich.console import Console

    from tiller.batch import BatchRun, TaskDefaults, ThreadExecutor, load_tasks, run_batch
    from tiller.batch.tasks import TaskFileError

    err = Console(stderr=True)
    try:
        tasks = load_tasks(tasks_file)
    except FileNotFoundError:
        _refuse(f"no tasks file {tasks_file}")
    except OSError as exc:
        _refuse(f"cannot read tasks file {tasks_file}: {exc.strerror}")
    except TaskFileError as exc:
        _refuse(str(exc))
    _check_out(out, tasks_file)
    _check_journals()
    opts = resolve_options(
        model=model,
        profile=profile,
        max_turns=max_turns,
        skills_dir=skills_dir,
        api_base=api_base,
        transport=transport,
        reasoning=reasoning,
        shell=shell,
        yes=yes,
        shell_network=shell_network,
        env_file=env_file,
    )
    settings = opts.settings
    options = settings.llm_options()
    options.pop("reasoning_effort", None)
    if settings.profile:
        options["profile"] = settings.profile
    defaults = TaskDefaults(
        model=settings.model,
        max_turns=opts.max_turns,
        reasoning=settings.reasoning,
        config=settings.config,
        llm_options=options,
        skills_dirs=tuple(str(d) for d in settings.skills_dirs)
        if settings.skills_dirs is not None
        else None,
    )
    if ray_address is not None:
        try:
            import ray  # noqa: F401
        except ImportError:
            _refuse("--ray needs Ray: pip install 'tiller[ray]'")
        from tiller.batch.ray_executor import RayExecutor

        executor: Any = RayExecutor(ray_address, cpus_per_task=cpus_per_task, max_in_flight=workers)
    else:
        executor = ThreadExecutor(workers or 8)

    progress: Any = None
    bar: Any = None

    def on_event(event: dict[str, Any]) -> None:
        if json_events:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()
            return
        if progress is None:
            return
        if event["event"] == "batch_start":
            progress.update(bar, total=event["total"])
        elif event["event"] == "max_cost_reached":
            progress.console.print(
                f"[yellow]--max-cost reached (${event['cost']:.4f}): no new tasks start[/]"
            )
        tally = run.tally
        progress.update(
            bar,
            completed=tally.done + tally.failed,
            done=tally.done,
            failed=tally.failed,
            running=tally.running,
            cost=tally.cost,
        )

    run = BatchRun(out, max_cost=max_cost, on_event=on_event)
    interrupted = False
    if not json_events:
        from rich.progress import Progress

        progress = Progress(*_progress_columns(), console=err, transient=False)
        bar = progress.add_task("batch", total=None, done=0, failed=0, running=0, cost=0.0)
        progress.start()
    terminated = threading.Event()
    try:
        with _sigterm_as_interrupt(terminated):
            tally = run_batch(tasks, defaults, executor, run)
    except KeyboardInterrupt:
        interrupted = True
        tally = run.tally
    finally:
        if progress is not None:
            progress.stop()
    if not json_events:
        Console().print(_summary_table(run.results, tally.skipped))
    if interrupted:
        how = "terminated" if terminated.is_set() else "interrupted"
        typer.echo(f"tiller: {how}; run the same command again to resume", err=True)
        raise typer.Exit(EXIT_TERMINATED if terminated.is_set() else EXIT_INTERRUPTED)
    left = tally.total - tally.done - tally.failed
    raise typer.Exit(EXIT_OK if tally.failed == 0 and left == 0 else EXIT_FAILED)


@batch_app.command("report")
def report_command(
    results_file: Annotated[Path, typer.Argument(metavar="RESULTS.jsonl")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Pass rate, cost, p50/p95 duration and top errors of a results file."""
    from rich.console import Console

    from tiller.batch.report import summarize
    from tiller.batch.tasks import ResultsFileError, latest_results

    if not results_file.is_file():
        _refuse(f"no results file {results_file}")
    try:
        results = latest_results(results_file)
    except ResultsFileError as exc:
        _refuse(str(exc))
    except OSError as exc:
        _refuse(f"cannot read {results_file}: {exc.strerror}")
    if json_output:
        typer.echo(json.dumps(summarize(results).to_dict()))
        return
    Console().print(_summary_table(results, 0))
