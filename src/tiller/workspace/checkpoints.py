"""Undo and redo stacks of overlay states (one checkpoint per agent turn)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tiller.workspace.base import Snapshot

MAX_CHECKPOINTS = 200
"""Older checkpoints are dropped; states share their strings, so each is cheap."""


@dataclass(frozen=True)
class OverlayState:
    """A copy of the overlay: file contents, tombstones, and what each change was based on.

    Attributes:
        files: path -> content written into the overlay.
        deleted: paths deleted from the base.
        bases: path -> the disk file each changed path was based on; undo and
            redo bring it back with the change, so a disk edit made meanwhile
            stays a conflict instead of silently becoming the new base.
        step: what happened after this state: `turn` (an agent turn) or
            `revert` (the person dropped some files' changes).
    """

    files: dict[str, str]
    deleted: frozenset[str]
    bases: dict[str, Snapshot] = field(default_factory=dict)
    step: str = "turn"

    def differing_paths(self, other: OverlayState) -> set[str]:
        """Paths whose overlay entry differs between the two states."""
        paths = set(self.deleted ^ other.deleted)
        for path in self.files.keys() | other.files.keys():
            if self.files.get(path) != other.files.get(path):
                paths.add(path)
        return paths


class Checkpoints:
    """Two stacks of states: checkpoints to undo to, and undone states to redo."""

    def __init__(self) -> None:
        self._undo: list[OverlayState] = []
        self._redo: list[OverlayState] = []

    @property
    def can_undo(self) -> bool:
        """Whether a checkpoint is available to go back to."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether an undone state is available to go forward to."""
        return bool(self._redo)

    def push(self, state: OverlayState) -> None:
        """Record a checkpoint; new history makes the redo stack obsolete."""
        self._undo.append(state)
        del self._undo[:-MAX_CHECKPOINTS]
        self._redo.clear()

    def next_step(self, which: str) -> str | None:
        """What `undo` (or `redo`) would take back (or re-apply): `turn`, `revert` or None."""
        stack = self._undo if which == "undo" else self._redo
        return stack[-1].step if stack else None

    def undo(self, current: OverlayState) -> OverlayState | None:
        """The state to go back to (current moves to the redo stack), or None."""
        if not self._undo:
            return None
        state = self._undo.pop()
        self._redo.append(replace(current, step=state.step))
        return state

    def rebase(self, flushed: dict[str, Snapshot]) -> None:
        """Make what a flush wrote the base of those paths in every remembered state.

        Tiller wrote those files itself, so an undo past the flush compares
        against them, not against the disk version they replaced.
        """
        for stack in (self._undo, self._redo):
            for index, state in enumerate(stack):
                if any(path in state.bases for path in flushed):
                    bases = {
                        path: flushed.get(path, snapshot) for path, snapshot in state.bases.items()
                    }
                    stack[index] = replace(state, bases=bases)

    def redo(self, current: OverlayState) -> OverlayState | None:
        """The state to go forward to (current moves to the undo stack), or None."""
        if not self._redo:
            return None
        state = self._redo.pop()
        self._undo.append(replace(current, step=state.step))
        return state
