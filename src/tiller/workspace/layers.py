"""The merged view of overlay and base: what exists, what changed, what the base held.

Not thread-safe on its own: `Workspace` holds its lock around every call but
`normalize`, which takes the shared lock itself when it must look at the overlay.
"""

from __future__ import annotations

import difflib
import os
import threading

from tiller.errors import FileNotFoundInWorkspace, WorkspaceError
from tiller.workspace.base import MISSING, BaseTree, Snapshot, is_git_path
from tiller.workspace.checkpoints import OverlayState
from tiller.workspace.content import encode_text
from tiller.workspace.paths import is_under, join, normalize, parent, unescape_path


class Layers:
    """Overlay contents and tombstones over an optional base tree, plus base snapshots.

    Attributes:
        tree: the base directory, or None.
        files: path -> content written into the overlay.
        deleted: tombstones for base files deleted in the overlay.
        seen: what the base held for each path the workspace read or changed;
            the old side of diffs and the reference for flush conflicts.
    """

    def __init__(self, tree: BaseTree | None, lock: threading.RLock | None = None) -> None:
        self.tree = tree
        self.lock = lock or threading.RLock()
        self.files: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.seen: dict[str, Snapshot] = {}

    def normalize(self, path: str) -> str:
        """A user path as a workspace path (see `paths.normalize`).

        Symlinks inside the root are resolved, so a file has one identity
        whichever name reaches it: an edit through `settings.py -> config.py`
        edits `config.py`, and diffs name the real file (git refuses patches
        that go through a symlink). Links leading out stay as they are, for the
        escape checks to refuse.
        """
        tree = self.tree
        if tree is None:
            return normalize(path, None)
        relative = normalize(path, tree.root, tree.root_real)
        if not relative or relative in self.files:
            return relative
        if "\\x" in relative:
            relative = self._unescaped(relative)
        real = tree.real_path(relative)
        return relative if real is None else real

    def _unescaped(self, path: str) -> str:
        """The raw name a `\\xNN`-escaped path (as tools show non-UTF-8 names) stands for.

        The escaped form wins only when the literal path does not exist and the
        raw one (or, for a new file, its directory) does.
        """
        raw = unescape_path(path)
        if raw == path:
            return path
        with self.lock:  # normalize runs outside the workspace lock; kind() reads the overlay
            if self.kind(path) is not None:
                return path
            if self.kind(raw) is not None:
                return raw
            if self.kind(parent(raw)) == "dir" and self.kind(parent(path)) != "dir":
                return raw
        return path

    def lexical(self, path: str) -> str:
        """A user path as a workspace path without resolving symlinks."""
        tree = self.tree
        if tree is None:
            return normalize(path, None)
        return normalize(path, tree.root, tree.root_real)

    # -- what exists ----------------------------------------------------------

    def _overlay_dir(self, path: str) -> bool:
        prefix = path + "/"
        return any(key.startswith(prefix) for key in self.files)

    def _base_dir_emptied(self, path: str) -> bool:
        """Whether every base file under a base directory has been deleted."""
        prefix = path + "/"
        if self.tree is None or not any(key.startswith(prefix) for key in self.deleted):
            return False
        return all(file in self.deleted for file, _ in self.tree.walk(path))

    def kind(self, path: str) -> str | None:
        """`"file"`, `"dir"` or None, as the workspace sees it."""
        if not path:
            return "dir"
        if path in self.files:
            return "file"
        if self._overlay_dir(path):
            return "dir"
        if self.tree is None or path in self.deleted:
            return None
        kind = self.tree.kind(path)
        if kind == "dir" and self._base_dir_emptied(path):
            return None
        return kind

    def require(self, path: str, kind: str) -> None:
        """Raise unless `path` exists as `kind` (`"file"` or `"dir"`)."""
        actual = self.kind(path)
        if actual is None:
            raise self.not_found(path)
        if actual != kind:
            if kind == "dir":
                raise WorkspaceError(f"{path} is a file, not a directory")
            raise WorkspaceError(f"{path or '.'} is a directory, not a file")

    def not_found(self, path: str) -> FileNotFoundInWorkspace:
        """A not-found error with a hint: deleted, missing parent, or similar names."""
        folder, _, name = path.rpartition("/")
        if path in self.deleted:
            return FileNotFoundInWorkspace(f"File not found: {path} (deleted in this workspace)")
        if self.kind(folder) != "dir":
            return FileNotFoundInWorkspace(
                f"File not found: {path} (directory {folder} does not exist)"
            )
        siblings = list(self.children(folder))
        close = difflib.get_close_matches(name, siblings, n=3)
        hint = f"; did you mean {', '.join(join(folder, c) for c in close)}?" if close else ""
        return FileNotFoundInWorkspace(f"File not found: {path}{hint}")

    def children(self, directory: str) -> dict[str, bool]:
        """Immediate children of a directory as `name -> is_dir`, overlay and base merged."""
        entries: dict[str, bool] = {}
        prefix = directory + "/" if directory else ""
        for key in self.files:
            if key.startswith(prefix):
                name, slash, _ = key[len(prefix) :].partition("/")
                entries[name] = entries.get(name, False) or bool(slash)
        if self.tree is not None and self.tree.kind(directory) == "dir":
            for name, is_dir in self.tree.children(directory):
                child = join(directory, name)
                if name in entries:
                    continue
                if is_dir and not self._base_dir_emptied(child):
                    entries[name] = True
                elif not is_dir and child not in self.deleted:
                    entries[name] = False
        return entries

    # -- what the base held -----------------------------------------------------

    def base_snapshot(self, path: str) -> Snapshot:
        """The base file as the workspace sees it, refreshed while the overlay leaves it alone."""
        tree = self.tree
        if tree is None:
            return MISSING
        seen = self.seen.get(path)
        if seen is not None:
            if path in self.files or path in self.deleted:
                return seen
            try:
                st = os.stat(tree.abspath(path))
            except OSError:
                st = None
            if st is not None and seen.trusted_signature(st):
                return seen
        fresh = tree.snapshot(path)
        self.seen[path] = fresh
        return fresh

    def touch(self, path: str) -> Snapshot:
        """Pin what the base holds before the overlay first changes `path`.

        A snapshot left by an earlier read is kept as it is, so a disk change
        between that read and this change shows up as a flush conflict.
        """
        if self.tree is None:
            return MISSING
        seen = self.seen.get(path)
        if seen is None:
            # A base directory whose files were all deleted: no file was there.
            empty_dir = self.tree.kind(path) == "dir"
            seen = self.seen[path] = MISSING if empty_dir else self.tree.snapshot(path)
        return seen

    # -- changing -----------------------------------------------------------------

    def _check_writable(self, path: str) -> None:
        if not path:
            raise WorkspaceError("Cannot write the workspace root; give a file path")
        if self.tree is not None:
            if is_git_path(path):
                raise WorkspaceError(f"Refusing to write inside .git: {path}")
            self.tree.resolve(path)
        if path not in self.files and self.kind(path) == "dir":
            raise WorkspaceError(f"{path} is a directory, not a file")
        ancestor = parent(path)
        while ancestor:
            if ancestor in self.files or (
                self.tree is not None
                and ancestor not in self.deleted
                and self.tree.kind(ancestor) == "file"
            ):
                raise WorkspaceError(f"Cannot create {path}: {ancestor} is a file")
            ancestor = parent(ancestor)

    def put(self, path: str, content: str) -> None:
        """Set a file's overlay content (checks the path and that the text encodes)."""
        encode_text(path, content)
        self._check_writable(path)
        self.touch(path)
        self.files[path] = content
        self.deleted.discard(path)

    def remove(self, path: str) -> None:
        """Delete a file: drop its overlay entry, and tombstone it if the base has it."""
        self.require(path, "file")
        seen = self.touch(path)
        self.files.pop(path, None)
        if seen.exists:
            self.deleted.add(path)

    def drop(self, path: str) -> None:
        """Forget the overlay's entry for `path`, so it reads from the base again.

        The base snapshot stays pinned: a checkpoint taken before keeps the
        change and the base it was made on together.
        """
        self.files.pop(path, None)
        self.deleted.discard(path)

    # -- changes ------------------------------------------------------------------

    def change_kind(self, path: str) -> str | None:
        """`added`, `modified`, `deleted`, or None when the overlay matches the base."""
        seen = self.seen.get(path, MISSING)
        content = self.files.get(path)
        if content is not None:
            if not seen.exists:
                return "added"
            return None if seen.text == content else "modified"
        return "deleted" if path in self.deleted and seen.exists else None

    def changes(self, wanted: list[str] | None = None) -> list[tuple[str, str]]:
        """`(path, kind)` of the changes (under any of `wanted`), sorted by path."""
        out = []
        for path in sorted(self.files.keys() | self.deleted):
            if wanted is not None and not any(is_under(path, w) for w in wanted):
                continue
            kind = self.change_kind(path)
            if kind is not None:
                out.append((path, kind))
        return out

    def mark_flushed(self, done: dict[str, Snapshot]) -> None:
        """Make flushed paths part of the base: drop their overlay entries, keep new snapshots."""
        for path, snapshot in done.items():
            self.files.pop(path, None)
            self.deleted.discard(path)
            self.seen[path] = snapshot

    # -- checkpoints --------------------------------------------------------------

    def state(self) -> OverlayState:
        """A copy of the overlay (contents, tombstones, and the bases of both)."""
        seen = self.seen
        bases = {path: seen[path] for path in (*self.files, *self.deleted) if path in seen}
        return OverlayState(dict(self.files), frozenset(self.deleted), bases)

    def restore(self, state: OverlayState) -> set[str]:
        """Put a copied overlay back with the bases its changes were made on.

        Returns the paths whose entry changed.
        """
        changed = state.differing_paths(self.state())
        self.files = dict(state.files)
        self.deleted = set(state.deleted)
        self.seen.update(state.bases)
        return changed
