"""Backing off per provider: a 429 on one task holds new tasks for that provider."""

from __future__ import annotations

import re
import threading
import time

_RETRY_IN = re.compile(r"^Rate limited.*retrying in ([0-9.]+) s")


def provider_key(model: str, api_base: str | None) -> str:
    """What shares a rate limit: the provider prefix of the model id and its endpoint."""
    return f"{model.split('/', 1)[0]}@{api_base or ''}"


class RateLimits:
    """When each provider may be called again.

    The model clients already retry a 429 with backoff (honouring `Retry-After`);
    this only keeps the batch from starting more tasks on a provider that just
    said "slow down", while tasks on other providers go on.
    """

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def note_warning(self, provider: str, message: str) -> None:
        """Read a retry warning; a rate limit holds `provider` for the wait it names."""
        match = _RETRY_IN.match(message)
        if match is not None:
            self.hold(provider, float(match.group(1)))

    def hold(self, provider: str, seconds: float) -> None:
        """No new task starts on `provider` for `seconds`."""
        with self._lock:
            until = time.monotonic() + seconds
            self._until[provider] = max(self._until.get(provider, 0.0), until)

    def wait(self, provider: str, cancel: threading.Event) -> bool:
        """Block until `provider` may be called; False when `cancel` was set meanwhile."""
        while True:
            with self._lock:
                left = self._until.get(provider, 0.0) - time.monotonic()
            if left <= 0:
                return not cancel.is_set()
            if cancel.wait(left):
                return False
