"""Tiller: a coding agent that edits an in-memory workspace you can see, steer and undo.

    from tiller import Session
    reply = Session("anthropic/claude-sonnet-4-5", root=".").send("Add a --verbose flag")
    print(reply.text, reply.files)

Public names load lazily, so `import tiller` stays cheap and does no I/O.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Session": "tiller.session",
    "SessionState": "tiller.session",
    "Reply": "tiller.session",
    "SessionManager": "tiller.manager",
    "SessionConfig": "tiller.config",
    "Workspace": "tiller.workspace",
    "Event": "tiller.events",
    "EventKind": "tiller.events",
    "Tool": "tiller.tools.base",
    "FunctionTool": "tiller.tools.base",
    "ToolContext": "tiller.tools.base",
    "Usage": "tiller.model",
    "TillerError": "tiller.errors",
    "WorkspaceError": "tiller.errors",
    "SessionClosed": "tiller.errors",
    "SessionBusy": "tiller.errors",
    "ProviderError": "tiller.errors",
    "AuthError": "tiller.errors",
    "ContextOverflowError": "tiller.errors",
    "CompactionError": "tiller.errors",
    "Compaction": "tiller.compaction",
    "FlushConflict": "tiller.errors",
}

__all__ = [
    "AuthError",
    "Compaction",
    "CompactionError",
    "ContextOverflowError",
    "Event",
    "EventKind",
    "FlushConflict",
    "FunctionTool",
    "ProviderError",
    "Reply",
    "Session",
    "SessionBusy",
    "SessionClosed",
    "SessionConfig",
    "SessionManager",
    "SessionState",
    "TillerError",
    "Tool",
    "ToolContext",
    "Usage",
    "Workspace",
    "WorkspaceError",
    "__version__",
]

if TYPE_CHECKING:
    from tiller.compaction import Compaction
    from tiller.config import SessionConfig
    from tiller.errors import (
        AuthError,
        CompactionError,
        ContextOverflowError,
        FlushConflict,
        ProviderError,
        SessionBusy,
        SessionClosed,
        TillerError,
        WorkspaceError,
    )
    from tiller.events import Event, EventKind
    from tiller.manager import SessionManager
    from tiller.model import Usage
    from tiller.session import Reply, Session, SessionState
    from tiller.tools.base import FunctionTool, Tool, ToolContext
    from tiller.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tiller' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
