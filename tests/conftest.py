"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiller.testing.server import FakeOpenAIServer


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    """A running local OpenAI-compatible server with no replies queued; `add()` some."""
    with FakeOpenAIServer() as server:
        yield server
