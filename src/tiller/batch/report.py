"""What a results file says: pass rate, cost, durations, the commonest errors."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tiller.batch.tasks import TaskResult


def percentile(values: list[float], share: float) -> float:
    """The `share` (0..1) percentile by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _error_key(error: str) -> str:
    """An error's first line, so the same failure on many tasks counts once."""
    line = error.strip().splitlines()[0] if error.strip() else "(no message)"
    return line[:160]


@dataclass(frozen=True, slots=True)
class BatchReport:
    """A summary of results (one per task id: the newest).

    Attributes:
        tasks: how many tasks have a result.
        by_status: count per status.
        pass_rate: completed / tasks (0.0 for none).
        cost_usd: known cost in USD.
        unknown_cost: tasks whose provider reported no price.
        p50_s, p95_s: task durations in seconds.
        files_changed: files changed over all tasks.
        top_errors: `(first line, count)`, commonest first.
    """

    tasks: int
    by_status: dict[str, int]
    pass_rate: float
    cost_usd: float
    unknown_cost: int
    p50_s: float
    p95_s: float
    files_changed: int
    top_errors: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {
            "tasks": self.tasks,
            "by_status": self.by_status,
            "pass_rate": self.pass_rate,
            "cost_usd": self.cost_usd,
            "unknown_cost": self.unknown_cost,
            "p50_s": self.p50_s,
            "p95_s": self.p95_s,
            "files_changed": self.files_changed,
            "top_errors": [list(item) for item in self.top_errors],
        }


def summarize(results: list[TaskResult], top: int = 5) -> BatchReport:
    """The report over `results` (pass one result per id, e.g. `latest_results`)."""
    statuses = Counter(result.status for result in results)
    durations = [result.duration_s for result in results]
    errors = Counter(
        _error_key(result.error)
        for result in results
        if result.status != "completed" and result.error
    )
    return BatchReport(
        tasks=len(results),
        by_status=dict(sorted(statuses.items())),
        pass_rate=round(statuses["completed"] / len(results), 4) if results else 0.0,
        cost_usd=round(sum(result.cost for result in results), 6),
        unknown_cost=sum(1 for r in results if r.usage and r.usage.get("cost_usd") is None),
        p50_s=round(percentile(durations, 0.5), 3),
        p95_s=round(percentile(durations, 0.95), 3),
        files_changed=sum(len(result.files_changed) for result in results),
        top_errors=errors.most_common(top),
    )
