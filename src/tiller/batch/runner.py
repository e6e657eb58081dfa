"""A batch run: which tasks are left, where results go, limits, and what to tell the front end."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tiller.batch.results import ResultWriter
from tiller.batch.task_runner import TaskDefaults
from tiller.batch.tasks import Task, TaskResult, finished_ids

BatchEvent = dict[str, Any]
"""One progress event: `{"event": "task_start" | "task_end" | ..., ...}` (a JSON object)."""


class Sink(Protocol):
    """What an executor reports to while it runs tasks."""

    def should_start(self) -> bool:
        """Whether another task may be scheduled (no cancel, cost limit not reached)."""
        ...

    def started(self, task: Task) -> None:
        """`task` was handed to a worker."""
        ...

    def finished(self, result: TaskResult) -> None:
        """A task ended; its line is written now."""
        ...


class Executor(Protocol):
    """Runs tasks somewhere (threads here, Ray tasks on a cluster) and reports to a sink.

    `run` returns when every task it scheduled has finished; on KeyboardInterrupt it
    cancels what runs, reports those tasks `cancelled`, and re-raises.
    """

    def run(self, tasks: Iterable[Task], defaults: TaskDefaults, sink: Sink) -> None: ...


@dataclass
class Tally:
    """Counts of a batch so far."""

    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    cost: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)
    stopped_for_cost: bool = False


class BatchRun:
    """The sink of one batch: writes each result, counts, enforces `max_cost`.

    Args:
        out: the results file (appended to).
        max_cost: stop scheduling new tasks once finished tasks cost this many USD.
        on_event: receives every `BatchEvent` (progress bar, `--json` lines).
    """

    def __init__(
        self,
        out: Path,
        *,
        max_cost: float | None = None,
        on_event: Callable[[BatchEvent], None] | None = None,
    ) -> None:
        self.out = out
        self.max_cost = max_cost
        self.tally = Tally()
        self.results: list[TaskResult] = []
        self._on_event = on_event or (lambda _event: None)
        self._lock = threading.Lock()
        self._writer: ResultWriter | None = None
        self.started_at = time.monotonic()

    def pending(self, tasks: list[Task]) -> list[Task]:
        """The tasks without a finished result in `out` (what a resume still has to do)."""
        done = finished_ids(self.out)
        left = [task for task in tasks if task.id not in done]
        self.tally.total = len(left)
        self.tally.skipped = len(tasks) - len(left)
        return left

    def _emit(self, event: BatchEvent) -> None:
        # A broken progress display never stops the batch.
        with contextlib.suppress(Exception):
            self._on_event(event)

    def should_start(self) -> bool:
        with self._lock:
            if self.max_cost is not None and self.tally.cost >= self.max_cost:
                if not self.tally.stopped_for_cost:
                    self.tally.stopped_for_cost = True
                    stop = {"event": "max_cost_reached", "cost": self.tally.cost}
                else:
                    return False
            else:
                return True
        self._emit(stop)
        return False

    def started(self, task: Task) -> None:
        with self._lock:
            self.tally.running += 1
        self._emit({"event": "task_start", "id": task.id})

    def finished(self, result: TaskResult) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = ResultWriter(self.out)
            self._writer.write(result)
            self.results.append(result)
            tally = self.tally
            tally.running = max(0, tally.running - 1)
            tally.by_status[result.status] = tally.by_status.get(result.status, 0) + 1
            if result.status == "completed":
                tally.done += 1
            else:
                tally.failed += 1
            tally.cost += result.cost
        self._emit(
            {
                "event": "task_end",
                "id": result.id,
                "status": result.status,
                "cost_usd": result.usage.get("cost_usd"),
                "duration_s": result.duration_s,
                "files_changed": len(result.files_changed),
                "error": result.error,
                "session_id": result.session_id,
            }
        )

    def close(self) -> None:
        """Close the results file."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def run_batch(
    tasks: list[Task], defaults: TaskDefaults, executor: Executor, run: BatchRun
) -> Tally:
    """Run the tasks `run.out` has no result for; returns the counts.

    Raises:
        KeyboardInterrupt: after the executor cancelled the running tasks (their
            `cancelled` lines are written, and a resume runs them again).
    """
    left = run.pending(tasks)
    run._emit({"event": "batch_start", "total": len(left), "skipped": run.tally.skipped})
    try:
        executor.run(left, defaults, run)
    finally:
        run.close()
        tally = run.tally
        run._emit(
            {
                "event": "batch_end",
                "done": tally.done,
                "failed": tally.failed,
                "not_started": tally.total - tally.done - tally.failed,
                "cost_usd": round(tally.cost, 6),
                "seconds": round(time.monotonic() - run.started_at, 3),
            }
        )
    return run.tally
