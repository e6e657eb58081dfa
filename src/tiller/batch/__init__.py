"""`tiller batch`: many tasks, one patch each, on threads here or Ray tasks on a cluster."""

from __future__ import annotations

from tiller.batch.runner import BatchRun, Executor, run_batch
from tiller.batch.task_runner import TaskDefaults, run_task
from tiller.batch.tasks import Task, TaskFileError, TaskResult, load_tasks, parse_tasks
from tiller.batch.threads import ThreadExecutor

__all__ = [
    "BatchRun",
    "Executor",
    "Task",
    "TaskDefaults",
    "TaskFileError",
    "TaskResult",
    "ThreadExecutor",
    "load_tasks",
    "parse_tasks",
    "run_batch",
    "run_task",
]
