"""The cluster executor: each task a Ray task (`pip install 'tiller[ray]'`); Ray is imported lazily.

Ray does the scheduling, placement and retries; this module only submits tasks
(a window at a time, so `--max-cost` can stop scheduling), collects their
results and cancels them on Ctrl+C.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tiller.batch.runner import Sink
from tiller.batch.task_runner import TaskDefaults
from tiller.batch.tasks import Task, TaskResult

DEFAULT_CPUS_PER_TASK = 0.1
"""Tasks wait on the provider: a tenth of a CPU each lets ten share a core."""

WORKER_RETRIES = 3
"""Ray re-runs a task whose worker died (node lost, OOM-killed) this many times."""

_POLL_S = 0.5  # how long one `ray.wait` blocks, so Ctrl+C is noticed between waits


def run_on_worker(task: dict[str, Any], defaults: TaskDefaults) -> dict[str, Any]:
    """The body of one Ray task: run the task on this worker and return its result line.

    Git URLs are cloned here, on the worker, into a temp dir removed afterwards.
    """
    from tiller.batch.task_runner import run_task
    from tiller.manager import SessionManager

    with SessionManager() as manager:
        return run_task(Task(**task), defaults, manager).to_dict()


class RayExecutor:
    """Runs each task as a Ray task on a cluster.

    Args:
        address: `auto` (the cluster this machine belongs to), `ray://host:10001`, or
            `host:6379`; `local` starts a throwaway cluster on this machine. When Ray is
            already initialised in this process, that connection is used as it is.
        cpus_per_task: Ray's `num_cpus` for each task.
        max_in_flight: tasks submitted at once (None: as many as the cluster's CPUs
            hold at `cpus_per_task`).
        retries: Ray's `max_retries` (worker deaths only; a failed task is a result).
    """

    def __init__(
        self,
        address: str = "auto",
        *,
        cpus_per_task: float = DEFAULT_CPUS_PER_TASK,
        max_in_flight: int | None = None,
        retries: int = WORKER_RETRIES,
    ) -> None:
        self.address = address
        self.cpus_per_task = cpus_per_task
        self.max_in_flight = max_in_flight
        self.retries = retries

    def _connect(self) -> bool:
        """Connect unless already connected; True when this call did (and must shut down)."""
        import ray

        if ray.is_initialized():
            return False
        if self.address == "local":
            ray.init(log_to_driver=False, include_dashboard=False)
        else:  # an existing cluster refuses options that shape a new one
            ray.init(address=self.address, log_to_driver=False)
        return True

    def _window(self) -> int:
        if self.max_in_flight is not None:
            return max(1, self.max_in_flight)
        import ray

        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus / max(self.cpus_per_task, 0.001)))

    def run(self, tasks: Iterable[Task], defaults: TaskDefaults, sink: Sink) -> None:
        import ray
        from ray.exceptions import RayError, TaskCancelledError

        owned = self._connect()
        try:
            remote = ray.remote(run_on_worker).options(
                num_cpus=self.cpus_per_task,
                max_retries=self.retries,
                retry_exceptions=False,
                name="tiller-batch-task",
            )
            queue = iter(tasks)
            window = self._window()
            in_flight: dict[Any, Task] = {}

            def fill() -> None:
                while len(in_flight) < window and sink.should_start():
                    task = next(queue, None)
                    if task is None:
                        return
                    in_flight[remote.remote(task.to_dict(), defaults)] = task
                    sink.started(task)

            try:
                fill()
                while in_flight:
                    ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=_POLL_S)
                    for ref in ready:
                        task = in_flight.pop(ref)
                        try:
                            result = TaskResult.from_dict(ray.get(ref))
                        except TaskCancelledError:
                            result = TaskResult(task.id, "cancelled", error="cancelled")
                        except RayError as exc:  # the worker died more often than retries
                            result = TaskResult(task.id, "error", error=f"ray: {exc}")
                        sink.finished(result)
                    fill()
            except KeyboardInterrupt:
                for ref in in_flight:
                    ray.cancel(ref, recursive=True)
                for task in in_flight.values():
                    sink.finished(
                        TaskResult(task.id, "cancelled", error="the batch was cancelled (Ctrl+C)")
                    )
                raise
        finally:
            if owned:
                ray.shutdown()
