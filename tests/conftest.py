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


@pytest.fixture(autouse=True)
def _private_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session journals (and subprocesses' journals) go to a temp dir, never the user's."""
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path_factory.mktemp("tiller-data")))
