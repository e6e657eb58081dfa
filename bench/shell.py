"""Benchmark the shell sandbox on the synthetic 20,000-file (~100 MB) repository.

Prints one JSON line with seconds for: the first command (a full copy of the
workspace into the sandbox), a no-op command once synced (the fixed cost of
every later command: sync check, bash, collecting changes), and a command after
100 in-memory edits (incremental sync).

    .venv/bin/python bench/shell.py [--files 20000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import build_repo

from tiller.approvals import ApprovalPolicy
from tiller.shell.runner import ShellRunner
from tiller.workspace import Workspace


def timed_command(runner: ShellRunner, command: str) -> float:
    start = time.perf_counter()
    runner.run(
        command, timeout_ms=600_000, description="", cancel=threading.Event(), on_output=print
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tiller-bench-"))
    try:
        build_repo(tmp, args.files, marked=max(1, args.files // 100))
        workspace = Workspace(root=tmp)
        runner = ShellRunner(workspace, policy=ApprovalPolicy("allow"), ask=lambda _: None)  # type: ignore[arg-type,return-value]
        first = timed_command(runner, "true")
        noop = min(timed_command(runner, "true") for _ in range(5))
        for path in sorted(workspace.glob("**/*.py"))[:100]:
            workspace.write(path, workspace.read(path) + "# edited\n")
        edited = timed_command(runner, "true")
        writes = timed_command(runner, "for i in $(seq 100); do echo $i > out_$i.txt; done")
        runner.close()
        print(
            json.dumps(
                {
                    "files": args.files,
                    "first_command_s": round(first, 3),
                    "noop_command_s": round(noop, 3),
                    "after_100_edits_s": round(edited, 3),
                    "command_writing_100_files_s": round(writes, 3),
                }
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
