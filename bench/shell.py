"""Benchmark the shell sandbox on the synthetic 20,000-file (~100 MB) repository.

Prints one JSON line per figure, each for both ways of running commands: `bwrap`
(the default confinement) and `none` (unconfined, the old runner's cost):

- `first_command_s`: the first command (a full copy of the workspace into the sandbox;
  file creation speed on the temp dir's file system dominates it);
- `noop_command_s`: a no-op command once synced (median of 9), the fixed cost of every
  later command: sync check, starting the command, collecting changes;
- `after_100_edits_s`: a command after 100 in-memory edits (incremental sync);
- `command_writing_100_files_s`: a command that creates 100 files (collect);
- `bare_start_s`: starting `true` alone, without any sync (median of 20).

A last line compares the no-op figures: target <= 0.3 s and <= 1.5x unconfined.

    .venv/bin/python bench/shell.py [--files 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from isolation import isolated_dirs
from workspace import build_repo

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.shell.confinement import Confinement
from tiller.shell.process import run_command
from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.workspace import Workspace

MODES = ("none", "bwrap")
NOOP_TARGET_S = 0.3
RATIO_TARGET = 1.5


def timed_command(runner: ShellRunner, command: str) -> float:
    start = time.perf_counter()
    runner.run(
        command,
        timeout_ms=600_000,
        description="",
        cancel=threading.Event(),
        on_output=lambda _: None,
    )
    return time.perf_counter() - start


def bare_start(argv: list[str], cwd: Path) -> float:
    times = []
    for _ in range(20):
        start = time.perf_counter()
        run_command(
            argv,
            cwd=cwd,
            env={"PATH": os.environ["PATH"]},
            timeout=60,
            cancel=threading.Event(),
            on_output=lambda _: None,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(root: Path) -> dict[str, dict[str, float]]:
    """Every figure for both modes, the no-op runs interleaved so load hits both alike."""
    workspace = Workspace(root=root)
    runners = {
        mode: ShellRunner(
            Workspace(root=root),
            policy=ApprovalPolicy("allow"),
            ask=lambda _: Approval(Decision.ALLOW),
            settings=ShellSettings(sandbox=mode),
        )
        for mode in MODES
    }
    figures: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
    noops: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for mode, runner in runners.items():
            figures[mode]["first_command_s"] = timed_command(runner, "true")
        for _ in range(9):
            for mode, runner in runners.items():
                noops[mode].append(timed_command(runner, "true"))
        edits = sorted(workspace.glob("**/*.py"))[:100]
        for mode, runner in runners.items():
            figures[mode]["noop_command_s"] = statistics.median(noops[mode])
            for path in edits:
                runner.workspace.write(path, runner.workspace.read(path) + "# edited\n")
            figures[mode]["after_100_edits_s"] = timed_command(runner, "true")
            figures[mode]["command_writing_100_files_s"] = timed_command(
                runner, "for i in $(seq 100); do echo $i > out_$i.txt; done"
            )
            argv = (
                ["bash", "-c", "true"]
                if mode == "none"
                else Confinement(root=root, sandbox=runner.sandbox.path).argv("true")
            )
            figures[mode]["bare_start_s"] = bare_start(argv, root)
    finally:
        for runner in runners.values():
            runner.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tiller-bench-"))
    try:
        build_repo(tmp, args.files, marked=max(1, args.files // 100))
        figures = measure(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in figures["bwrap"]:
        print(
            json.dumps(
                {
                    "figure": name,
                    "files": args.files,
                    "bwrap": round(figures["bwrap"][name], 4),
                    "unconfined": round(figures["none"][name], 4),
                }
            )
        )
    noop, plain = figures["bwrap"]["noop_command_s"], figures["none"]["noop_command_s"]
    print(
        json.dumps(
            {
                "figure": "noop_target",
                "bwrap_noop_s": round(noop, 4),
                "target_s": NOOP_TARGET_S,
                "ratio_to_unconfined": round(noop / plain, 2),
                "target_ratio": RATIO_TARGET,
                "met": noop <= NOOP_TARGET_S and noop / plain <= RATIO_TARGET,
            }
        )
    )


if __name__ == "__main__":
    with isolated_dirs("shell"):
        main()
