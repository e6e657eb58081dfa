"""The in-memory workspace: an overlay over a read-only directory, with diff, flush and undo."""

from __future__ import annotations

from tiller.workspace.overlay import ChangeListener, Workspace
from tiller.workspace.ranges import LineRange
from tiller.workspace.search import GrepHit, GrepResult

__all__ = ["ChangeListener", "GrepHit", "GrepResult", "LineRange", "Workspace"]
