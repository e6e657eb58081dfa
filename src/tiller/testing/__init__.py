"""Fakes for testing Tiller without a network: a local OpenAI-compatible server.

The server names load lazily so `python -m tiller.testing.server` runs cleanly.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiller.testing.server import FakeOpenAIServer, RecordedRequest, ServerReply, load_script

_SERVER_NAMES = ("FakeOpenAIServer", "RecordedRequest", "ServerReply", "load_script")

__all__ = ["FakeOpenAIServer", "RecordedRequest", "ServerReply", "load_script"]


def __getattr__(name: str) -> Any:
    if name in _SERVER_NAMES:
        return getattr(import_module("tiller.testing.server"), name)
    raise AttributeError(f"module 'tiller.testing' has no attribute {name!r}")
