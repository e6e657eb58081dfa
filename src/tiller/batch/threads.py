"""The embedded executor: tasks on threads of this process, sessions on a `SessionManager`."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from tiller.batch.rate_limits import RateLimits
from tiller.batch.runner import Sink
from tiller.batch.task_runner import TaskDefaults, run_task
from tiller.batch.tasks import Task
from tiller.manager import SessionManager, UnknownSession


class ThreadExecutor:
    """At most `workers` tasks at once, each a session of one shared `SessionManager`.

    Tasks spend their time waiting on the provider, so threads are enough here;
    nothing to start, nothing to install.

    Args:
        workers: how many tasks run at once.
    """

    def __init__(self, workers: int = 8) -> None:
        self.workers = max(1, workers)
        self.limits = RateLimits()

    def run(self, tasks: Iterable[Task], defaults: TaskDefaults, sink: Sink) -> None:
        stop = threading.Event()
        manager = SessionManager()

        def one(task: Task) -> None:
            if stop.is_set() or not sink.should_start():
                return  # never started: a resume runs it
            sink.started(task)
            result = run_task(task, defaults, manager, cancel=stop, limits=self.limits)
            # Reported from this thread, before it takes the next task, so the next
            # `should_start` already counts this task's cost.
            sink.finished(result)

        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="tiller-batch")
        futures: list[Future[None]] = []
        try:
            # Submitting is inside the try: a Ctrl+C that lands while the first tasks
            # already run must still cancel them, or the exit would wait for them.
            futures.extend(pool.submit(one, task) for task in tasks)
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            for session_id in manager.ids():
                try:
                    manager.get(session_id).cancel()
                except UnknownSession:
                    continue  # it finished meanwhile
            # The running tasks end promptly as `cancelled` and write their lines.
            wait(futures)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            manager.close_all()
