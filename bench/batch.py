"""200 one-step batch tasks against the local server, each reply delayed 0.5 s.

Each task is one model call that answers with text (no tool), over one local git
repo (used in place, never cloned), journaled like a real batch. The server runs in
its own process, as a provider would.

Threads: `ThreadExecutor(32)` (what `--workers 32` runs). The ideal wall time is
ceil(tasks / workers) x delay; `throughput_ratio` is ideal / wall (target >= 0.8).

Ray: a local cluster (`ray.init(num_cpus=2, ...)`) runs the same tasks as Ray tasks
with BENCH_RAY_WINDOW (16) in flight at `num_cpus = 2 / window` each. A warm-up
batch of one window's tasks starts the worker processes first (reported as
`ray_warmup_s`). `overhead_ms_per_task` is, per task, the time from submission to
its result at the driver minus the task's own duration measured on the worker
(scheduling, dispatch, (de)serialising, result transfer): Ray's per-task overhead.
The same figure for threads shows what the in-process path costs.

Prints one JSON line. Environment: BENCH_TASKS (200), BENCH_DELAY (0.5),
BENCH_WORKERS (32), BENCH_RAY_WINDOW (16), BENCH_RAY (1; 0 skips Ray).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from isolation import isolated_dirs

from tiller.batch import BatchRun, Task, TaskDefaults, ThreadExecutor, run_batch
from tiller.batch.tasks import TaskResult
from tiller.testing.server import serve_script_process

TASKS = int(os.environ.get("BENCH_TASKS", "200"))
DELAY = float(os.environ.get("BENCH_DELAY", "0.5"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "32"))
RAY_WINDOW = int(os.environ.get("BENCH_RAY_WINDOW", "16"))
WITH_RAY = os.environ.get("BENCH_RAY", "1") != "0"
TARGET = 0.8


class TimedRun(BatchRun):
    """A `BatchRun` that also notes when each task was handed out and came back."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.handed: dict[str, float] = {}
        self.back: dict[str, float] = {}
        self._times = threading.Lock()

    def started(self, task: Task) -> None:
        with self._times:
            self.handed[task.id] = time.perf_counter()
        super().started(task)

    def finished(self, result: TaskResult) -> None:
        with self._times:
            self.back[result.id] = time.perf_counter()
        super().finished(result)

    def overhead_ms(self) -> float:
        """Median of (driver-observed time - the task's own duration), in ms."""
        by_id = {r.id: r for r in self.results}
        gaps = [
            (self.back[i] - self.handed[i] - by_id[i].duration_s) * 1000
            for i in self.back
            if i in self.handed
        ]
        return round(statistics.median(gaps), 2) if gaps else 0.0


def make_repo(path: Path) -> Path:
    path.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
    (path / "README").write_text("bench\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return path


def timed(tasks: list[Task], defaults: TaskDefaults, executor: Any, out: Path) -> dict[str, Any]:
    run = TimedRun(out)
    start = time.perf_counter()
    tally = run_batch(tasks, defaults, executor, run)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "done": tally.done, "overhead_ms": run.overhead_ms()}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tiller-bench-batch-"))
    os.environ["TILLER_DATA_DIR"] = str(work / "data")  # journals stay out of the user's dir
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    repo = make_repo(work / "repo")
    script = {"replies": [], "default": {"text": "Done.", "delay": DELAY}}
    with serve_script_process(script, work) as base_url:
        defaults = TaskDefaults(
            model="openai/fake-model",
            max_turns=1,
            llm_options={"api_base": base_url, "transport": "openai"},
            skills_dirs=(),
        )

        def tasks(prefix: str, n: int) -> list[Task]:
            return [Task(id=f"{prefix}{i}", repo=str(repo), prompt="say done") for i in range(n)]

        threads = timed(tasks("t", TASKS), defaults, ThreadExecutor(WORKERS), work / "t.jsonl")
        ideal = math.ceil(TASKS / WORKERS) * DELAY
        report: dict[str, Any] = {
            "bench": "batch",
            "tasks": TASKS,
            "delay_s": DELAY,
            "threads": {
                "workers": WORKERS,
                "completed": threads["done"],
                "wall_s": round(threads["wall_s"], 3),
                "ideal_s": ideal,
                "tasks_per_s": round(TASKS / threads["wall_s"], 2),
                "ideal_tasks_per_s": round(TASKS / ideal, 2),
                "throughput_ratio": round(ideal / threads["wall_s"], 3),
                "target": TARGET,
                "overhead_ms_per_task": threads["overhead_ms"],
            },
        }
        if WITH_RAY:
            report["ray"] = ray_pass(tasks, defaults, work)
    report["ok"] = report["threads"]["throughput_ratio"] >= TARGET
    print(json.dumps(report))
    subprocess.run(["rm", "-rf", str(work)], check=False)


def ray_pass(tasks: Any, defaults: TaskDefaults, work: Path) -> dict[str, Any]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from tiller.batch.ray_executor import RayExecutor

    start = time.perf_counter()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(work / "ray"),
        log_to_driver=False,
    )
    init_s = time.perf_counter() - start
    try:
        executor = RayExecutor(cpus_per_task=2 / RAY_WINDOW, max_in_flight=RAY_WINDOW)
        warm = timed(tasks("w", RAY_WINDOW), defaults, executor, work / "w.jsonl")
        result = timed(tasks("r", TASKS), defaults, executor, work / "r.jsonl")
    finally:
        ray.shutdown()
    ideal = math.ceil(TASKS / RAY_WINDOW) * DELAY
    return {
        "window": RAY_WINDOW,
        "init_s": round(init_s, 2),
        "ray_warmup_s": round(warm["wall_s"], 2),
        "completed": result["done"],
        "wall_s": round(result["wall_s"], 3),
        "ideal_s": ideal,
        "tasks_per_s": round(TASKS / result["wall_s"], 2),
        "throughput_ratio": round(ideal / result["wall_s"], 3),
        "overhead_ms_per_task": result["overhead_ms"],
    }


if __name__ == "__main__":
    with isolated_dirs("batch"):
        sys.exit(main())
