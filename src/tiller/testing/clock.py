"""`ManualClock`: a monotonic time source that moves only when a test says so.

Front ends take one where a delay matters to safety (the approval guard), so
tests check the delay without sleeping.
"""

from __future__ import annotations


class ManualClock:
    """Callable like `time.monotonic`; `advance` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self.now += seconds
