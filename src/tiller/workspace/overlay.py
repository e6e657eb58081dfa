"""`Workspace`: an in-memory overlay over an optional read-only directory."""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tiller.errors import (
    BinaryFileError,
    EditError,
    FileNotFoundInWorkspace,
    FlushConflict,
    WorkspaceError,
)
from tiller.workspace.base import MISSING, BaseTree, Snapshot, is_git_path, read_bytes
from tiller.workspace.checkpoints import Checkpoints, OverlayState
from tiller.workspace.content import encode_text
from tiller.workspace.diff import binary_diff, text_diff
from tiller.workspace.flush import PendingChange, apply_changes, find_conflicts, resolve_targets
from tiller.workspace.globs import compile_glob, literal_prefix
from tiller.workspace.paths import is_under, join, normalize, parent
from tiller.workspace.search import LineMatcher

ChangeListener = Callable[[str, str], None]
"""Called as `listener(path, action)`; action is write, edit, delete, undo, redo or flush."""

GrepHit = tuple[str, int, str]


class Workspace:
    """An in-memory map of `path -> content` layered over an optional base directory.

    Reads fall through to the base (`root`); `write`, `edit` and `delete` touch
    memory only, until `flush` writes the changes to the root. Paths are POSIX
    and relative to the root; absolute paths inside the root are accepted, and
    anything that escapes it (`..`, absolute paths elsewhere, symlinks pointing
    out) raises `PathEscapeError`. Walking the base skips `.git/` and whatever
    `.gitignore` files ignore. All methods are thread-safe.

    Attributes:
        on_change: an optional `listener(path, action)` called after each change,
            alongside those added with `subscribe`.

    Args:
        files: seed contents, as if written.
        root: the base directory (read-only until `flush`).
    """

    def __init__(
        self, files: Mapping[str, str] | None = None, root: str | os.PathLike[str] | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._tree: BaseTree | None = None
        self._root: Path | None = None
        if root is not None:
            absolute = os.path.abspath(os.fspath(root))
            if not os.path.isdir(absolute):
                raise WorkspaceError(f"Workspace root is not a directory: {root}")
            self._root = Path(absolute)
            self._tree = BaseTree(absolute)
        self._files: dict[str, str] = {}
        self._deleted: set[str] = set()
        self._seen: dict[str, Snapshot] = {}
        self._checkpoints = Checkpoints()
        self._listeners: list[ChangeListener] = []
        self.on_change: ChangeListener | None = None
        for path, content in (files or {}).items():
            self._put(self._path(path), content)

    def __repr__(self) -> str:
        return (
            f"Workspace(root={self._root}, files={len(self._files)}, deleted={len(self._deleted)})"
        )

    @property
    def root(self) -> Path | None:
        """The base directory, or None for a purely in-memory workspace."""
        return self._root

    # -- listeners ------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Call `listener(path, action)` after every change; returns an unsubscribe function.

        Actions are `write`, `edit`, `delete`, `undo`, `redo` and `flush`.
        Listeners run on the mutating thread, outside the lock; their errors are ignored.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, paths: Iterable[str], action: str) -> None:
        with self._lock:
            listeners = [*self._listeners, *([self.on_change] if self.on_change else [])]
        for path in sorted(paths):
            for listener in listeners:
                try:
                    listener(path, action)
                except Exception:  # a broken listener must not undo an edit
                    continue

    # -- paths and kinds --------------------------------------------------------

    def _path(self, path: str) -> str:
        tree = self._tree
        if tree is None:
            return normalize(path, None)
        return normalize(path, tree.root, tree.root_real)

    def _overlay_dir(self, path: str) -> bool:
        prefix = path + "/"
        return any(key.startswith(prefix) for key in self._files)

    def _base_dir_emptied(self, path: str) -> bool:
        """Whether every base file under a base directory has been deleted."""
        prefix = path + "/"
        if self._tree is None or not any(key.startswith(prefix) for key in self._deleted):
            return False
        return all(file in self._deleted for file, _ in self._tree.walk(path))

    def _kind(self, path: str) -> str | None:
        """`"file"`, `"dir"` or None, as the workspace sees it (lock held)."""
        if not path:
            return "dir"
        if path in self._files:
            return "file"
        if self._overlay_dir(path):
            return "dir"
        if self._tree is None or path in self._deleted:
            return None
        kind = self._tree.kind(path)
        if kind == "dir" and self._base_dir_emptied(path):
            return None
        return kind

    def _not_found(self, path: str) -> FileNotFoundInWorkspace:
        folder, _, name = path.rpartition("/")
        if path in self._deleted:
            return FileNotFoundInWorkspace(f"File not found: {path} (deleted in this workspace)")
        if self._kind(folder) != "dir":
            return FileNotFoundInWorkspace(
                f"File not found: {path} (directory {folder} does not exist)"
            )
        siblings = [entry.rstrip("/") for entry in self.list_dir(folder)]
        close = difflib.get_close_matches(name, siblings, n=3)
        hint = f"; did you mean {', '.join(join(folder, c) for c in close)}?" if close else ""
        return FileNotFoundInWorkspace(f"File not found: {path}{hint}")

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists in the workspace."""
        path = self._path(path)
        with self._lock:
            return self._kind(path) is not None

    def is_dir(self, path: str) -> bool:
        """Whether `path` is a directory in the workspace."""
        path = self._path(path)
        with self._lock:
            return self._kind(path) == "dir"

    def is_binary(self, path: str) -> bool:
        """Whether `path` is a binary base file (overlay content is always text).

        Raises:
            FileNotFoundInWorkspace: no such file.
        """
        path = self._path(path)
        with self._lock:
            if path in self._files:
                return False
            if self._kind(path) != "file":
                raise self._not_found(path)
            return self._base_snapshot(path).text is None

    # -- base snapshots ---------------------------------------------------------

    def _base_snapshot(self, path: str) -> Snapshot:
        """The base file as the workspace sees it, refreshed while the overlay leaves it alone."""
        tree = self._tree
        if tree is None:
            return MISSING
        seen = self._seen.get(path)
        if seen is not None:
            if path in self._files or path in self._deleted:
                return seen
            try:
                st = os.stat(tree.abspath(path))
            except OSError:
                st = None
            if st is not None and seen.trusted_signature(st):
                return seen
        fresh = tree.snapshot(path)
        self._seen[path] = fresh
        return fresh

    def _touch(self, path: str) -> Snapshot:
        """Pin what the base holds before the overlay first changes `path`.

        A snapshot left by an earlier `read` is kept as it is, so a disk change
        between that read and this change shows up as a flush conflict.
        """
        if self._tree is None:
            return MISSING
        seen = self._seen.get(path)
        if seen is None:
            seen = self._seen[path] = self._tree.snapshot(path)
        return seen

    # -- reading ----------------------------------------------------------------

    def read(self, path: str) -> str:
        """The text of a file: the overlay's if written, else the base's.

        Raises:
            FileNotFoundInWorkspace: no such file (or it was deleted).
            BinaryFileError: the base file is binary.
            WorkspaceError: the path is a directory.
        """
        path = self._path(path)
        with self._lock:
            content = self._files.get(path)
            if content is not None:
                return content
            kind = self._kind(path)
            if kind == "dir":
                raise WorkspaceError(f"{path or '.'} is a directory, not a file; use list_dir")
            if kind is None:
                raise self._not_found(path)
            snapshot = self._base_snapshot(path)
            if not snapshot.exists:
                raise self._not_found(path)
            text = snapshot.text
            if text is None:
                raise BinaryFileError(f"{path} is a binary file and cannot be read as text")
            return text

    def files(self) -> dict[str, str]:
        """The in-memory map (seeded, written and edited files), sorted by path.

        Untouched base files are never included.
        """
        with self._lock:
            return {path: self._files[path] for path in sorted(self._files)}

    def list_dir(self, path: str = "") -> list[str]:
        """Names of the immediate children of a directory, sorted; directories end in `/`.

        Raises:
            FileNotFoundInWorkspace: no such directory.
            WorkspaceError: the path is a file.
        """
        path = self._path(path)
        with self._lock:
            kind = self._kind(path)
            if kind is None:
                raise self._not_found(path)
            if kind == "file":
                raise WorkspaceError(f"{path} is a file, not a directory")
            entries: dict[str, bool] = {}
            prefix = path + "/" if path else ""
            for key in self._files:
                if key.startswith(prefix):
                    name, slash, _ = key[len(prefix) :].partition("/")
                    entries[name] = entries.get(name, False) or bool(slash)
            if self._tree is not None and self._tree.kind(path) == "dir":
                for name, is_dir in self._tree.children(path):
                    child = join(path, name)
                    if name in entries:
                        continue
                    if is_dir and not self._base_dir_emptied(child):
                        entries[name] = True
                    elif not is_dir and child not in self._deleted:
                        entries[name] = False
        return sorted(name + "/" if is_dir else name for name, is_dir in entries.items())

    def _search_root(self, path: str) -> tuple[str, str]:
        """Normalise a search path and return it with its kind (lock held)."""
        kind = self._kind(path)
        if kind is None:
            raise self._not_found(path)
        return path, kind

    def glob(self, pattern: str, path: str = "") -> list[str]:
        """Files under `path` whose path relative to it matches a glob.

        `*`, `?`, `[...]` and `{a,b}` stay within one segment; `**` spans
        directories. Results are workspace paths: overlay files first (newest by
        definition), then base files by modification time, newest first.

        Raises:
            FileNotFoundInWorkspace: `path` does not exist.
            WorkspaceError: `path` is a file, or the pattern is empty.
        """
        directory = self._path(path)
        pattern = pattern.removeprefix("./")
        if pattern.startswith("/"):
            directory, pattern = "", self._path(pattern)
        regex = compile_glob(pattern)
        with self._lock:
            _, kind = self._search_root(directory)
            if kind == "file":
                raise WorkspaceError(f"{directory} is a file, not a directory")
            overlay = [key for key in self._files if is_under(key, directory)]
            shadowed = set(self._files) | self._deleted
        cut = len(directory) + 1 if directory else 0
        match = regex.match
        hits = sorted(key for key in overlay if match(key[cut:]))
        dated: list[tuple[int, str]] = []
        start = join(directory, literal_prefix(pattern))
        if self._tree is not None and self._tree.kind(start) == "dir":
            for file, entry in self._tree.walk(start):
                if file in shadowed or not match(file[cut:]):
                    continue
                try:
                    dated.append((-entry.stat().st_mtime_ns, file))
                except OSError:
                    continue
        dated.sort()
        return hits + [file for _, file in dated]

    def grep(
        self,
        pattern: str,
        path: str = "",
        glob: str | None = None,
        case_insensitive: bool = False,
        max_results: int | None = 100,
    ) -> list[GrepHit]:
        """Lines matching a Python regex, as `(path, 1-based line number, line)`.

        Searches overlay and base files (overlay content wins) in path order,
        skipping binary files, and stops once `max_results` lines are found.

        Args:
            pattern: a Python `re` pattern, searched within each line.
            path: a file or directory to search.
            glob: only files matching it; without a `/` it matches file names,
                with one, paths relative to `path`.
            case_insensitive: match regardless of case.
            max_results: the most lines to return; None for no limit.

        Raises:
            WorkspaceError: an invalid regex or glob, or `max_results` below 1.
            FileNotFoundInWorkspace: `path` does not exist.
        """
        matcher = LineMatcher(pattern, case_insensitive)
        if max_results is not None and max_results < 1:
            raise WorkspaceError("max_results must be at least 1")
        name_filter = compile_glob(glob) if glob else None
        by_name = glob is not None and "/" not in glob
        root = self._path(path)
        with self._lock:
            _, kind = self._search_root(root)
            overlay = {key: text for key, text in self._files.items() if is_under(key, root)}
            deleted = set(self._deleted)
        tree = self._tree
        if kind == "file":
            candidates = [root]
        else:
            found = set(overlay)
            if tree is not None and tree.kind(root) == "dir":
                found.update(file for file, _ in tree.walk(root) if file not in deleted)
            cut = len(root) + 1 if root else 0
            candidates = sorted(found)
            if name_filter is not None:
                match = name_filter.match
                candidates = [
                    file
                    for file in candidates
                    if match(file.rpartition("/")[2] if by_name else file[cut:])
                ]
        results: list[GrepHit] = []
        for file in candidates:
            remaining = None if max_results is None else max_results - len(results)
            text = overlay.get(file)
            if text is not None:
                hits = matcher.search_text(text, remaining)
            elif tree is not None:
                try:
                    data = read_bytes(tree.abspath(file))
                except OSError:
                    continue
                hits = matcher.search_bytes(data, remaining) or []
            else:
                continue
            results.extend((file, number, line) for number, line in hits)
            if max_results is not None and len(results) >= max_results:
                break
        return results

    # -- writing ----------------------------------------------------------------

    def _check_writable(self, path: str) -> None:
        if not path:
            raise WorkspaceError("Cannot write the workspace root; give a file path")
        if self._tree is not None:
            if is_git_path(path):
                raise WorkspaceError(f"Refusing to write inside .git: {path}")
            self._tree.resolve(path)
        if path not in self._files and self._kind(path) == "dir":
            raise WorkspaceError(f"{path} is a directory, not a file")
        ancestor = parent(path)
        while ancestor:
            if ancestor in self._files or (
                self._tree is not None
                and ancestor not in self._deleted
                and self._tree.kind(ancestor) == "file"
            ):
                raise WorkspaceError(f"Cannot create {path}: {ancestor} is a file")
            ancestor = parent(ancestor)

    def _put(self, path: str, content: str) -> None:
        encode_text(path, content)
        with self._lock:
            self._check_writable(path)
            self._touch(path)
            self._files[path] = content
            self._deleted.discard(path)

    def write(self, path: str, content: str) -> None:
        """Create or overwrite a file in memory (parent directories are implied).

        Raises:
            WorkspaceError: the path is a directory, a parent is a file, or the
                content cannot be encoded as UTF-8.
        """
        path = self._path(path)
        self._put(path, content)
        self._notify([path], "write")

    def edit(self, path: str, old: str, new: str, replace_all: bool = False) -> int:
        """Replace an exact substring of a file; returns how many occurrences changed.

        Raises:
            EditError: `old` is empty, identical to `new`, missing, or not unique
                without `replace_all`.
            FileNotFoundInWorkspace: no such file.
        """
        path = self._path(path)
        if not isinstance(old, str) or not isinstance(new, str):
            raise EditError("old_string and new_string must be strings")
        if not old:
            raise EditError(
                f"old_string is empty; to create or overwrite {path}, write the whole file"
            )
        if old == new:
            raise EditError(f"old_string and new_string are identical; nothing to change in {path}")
        with self._lock:
            content = self.read(path)
            count = content.count(old)
            if count == 0:
                raise EditError(f"old_string not found in {path}{_near_miss_hint(content, old)}")
            if count > 1 and not replace_all:
                raise EditError(
                    f"old_string appears {count} times in {path}; include more surrounding "
                    "context to make it unique, or set replace_all to replace every occurrence"
                )
            self._put(path, content.replace(old, new, -1 if replace_all else 1))
        self._notify([path], "edit")
        return count if replace_all else 1

    def delete(self, path: str) -> None:
        """Delete a file from the workspace (a tombstone over the base until flushed).

        Raises:
            FileNotFoundInWorkspace: no such file.
            WorkspaceError: the path is a directory.
        """
        path = self._path(path)
        with self._lock:
            kind = self._kind(path)
            if kind is None:
                raise self._not_found(path)
            if kind == "dir":
                raise WorkspaceError(f"{path or '.'} is a directory; delete its files one by one")
            seen = self._touch(path)
            self._files.pop(path, None)
            if seen.exists:
                self._deleted.add(path)
        self._notify([path], "delete")

    # -- changes, diff, flush ---------------------------------------------------

    def _change_kind(self, path: str) -> str | None:
        seen = self._seen.get(path, MISSING)
        content = self._files.get(path)
        if content is not None:
            if not seen.exists:
                return "added"
            return None if seen.text == content else "modified"
        return "deleted" if path in self._deleted and seen.exists else None

    def _selected(self, paths: Iterable[str] | str | None) -> list[tuple[str, str]]:
        """`(path, kind)` of the changes under any of `paths` (lock held)."""
        if isinstance(paths, str):
            paths = [paths]
        wanted = None if paths is None else [self._path(p) for p in paths]
        out = []
        for path in sorted(self._files.keys() | self._deleted):
            if wanted is not None and not any(is_under(path, w) for w in wanted):
                continue
            kind = self._change_kind(path)
            if kind is not None:
                out.append((path, kind))
        return out

    def changes(self) -> list[tuple[str, str]]:
        """`(path, kind)` for every change against the base, sorted by path.

        Kinds are `added`, `modified` and `deleted`. Writing a base file's own
        content back is no change; neither is creating and then deleting a file.
        """
        with self._lock:
            return self._selected(None)

    def diff(self, paths: Iterable[str] | str | None = None) -> str:
        """A git-style unified diff of the changes (optionally only under `paths`).

        The patch applies with `git apply` to a clean checkout of the base as
        the workspace saw it. Binary base files become `GIT binary patch` hunks.
        """
        with self._lock:
            items = [
                (path, self._seen.get(path, MISSING), self._files.get(path))
                for path, _ in self._selected(paths)
            ]
        parts = []
        for path, seen, content in items:
            if seen.exists and seen.text is None:
                new = None if content is None else content.encode("utf-8")
                parts.append(binary_diff(path, seen.data, new, seen.mode))
            else:
                parts.append(text_diff(path, seen.text, content, seen.mode))
        return "".join(parts)

    def flush(self, paths: Iterable[str] | str | None = None, force: bool = False) -> list[str]:
        """Write the changes (optionally only under `paths`) to the root directory.

        All or nothing up front: if any file changed on disk since the workspace
        read it (or appeared where there was none), `FlushConflict` lists every
        such path and nothing is written, unless `force`. Each file is written
        atomically (temp file + rename) with its mode kept; deletes remove files
        and the directories they leave empty. Flushed paths become the new base.

        Returns:
            The workspace paths written or deleted, sorted.

        Raises:
            WorkspaceError: the workspace has no root.
            FlushConflict: files changed on disk (nothing written).
            PathEscapeError: a path now resolves outside the root (nothing written).
            FlushError: an OS error stopped the flush part way.
        """
        tree = self._tree
        if tree is None:
            raise WorkspaceError(
                "This workspace has no root directory to flush to; export diff() instead"
            )
        with self._lock:
            pending = [
                PendingChange(
                    path,
                    None if kind == "deleted" else encode_text(path, self._files[path]),
                    self._seen.get(path, MISSING),
                )
                for path, kind in self._selected(paths)
            ]
            resolve_targets(tree, pending)
            if not force:
                conflicts = find_conflicts(tree, pending)
                if conflicts:
                    raise FlushConflict(conflicts)
            done: dict[str, Snapshot] = {}
            try:
                apply_changes(tree, pending, done)
            finally:
                for path, snapshot in done.items():
                    self._files.pop(path, None)
                    self._deleted.discard(path)
                    self._seen[path] = snapshot
        self._notify(done, "flush")
        return sorted(done)

    # -- checkpoints ------------------------------------------------------------

    def _state(self) -> OverlayState:
        return OverlayState(dict(self._files), frozenset(self._deleted))

    def _restore(self, state: OverlayState) -> set[str]:
        changed = state.differing_paths(self._state())
        self._files = dict(state.files)
        self._deleted = set(state.deleted)
        return changed

    @property
    def can_undo(self) -> bool:
        """Whether `undo` has a checkpoint to go back to."""
        with self._lock:
            return self._checkpoints.can_undo

    @property
    def can_redo(self) -> bool:
        """Whether `redo` has an undone state to go forward to."""
        with self._lock:
            return self._checkpoints.can_redo

    def checkpoint(self) -> None:
        """Remember the overlay as it is now (the engine calls this as each turn starts).

        A new checkpoint discards anything that could have been redone.
        """
        with self._lock:
            self._checkpoints.push(self._state())

    def undo(self) -> bool:
        """Restore the overlay to the last checkpoint; False when there is none.

        Only memory changes: files already flushed stay on disk as the new base.
        """
        with self._lock:
            state = self._checkpoints.undo(self._state())
            if state is None:
                return False
            changed = self._restore(state)
        self._notify(changed, "undo")
        return True

    def redo(self) -> bool:
        """Re-apply the state the last `undo` left; False when there is none."""
        with self._lock:
            state = self._checkpoints.redo(self._state())
            if state is None:
                return False
            changed = self._restore(state)
        self._notify(changed, "redo")
        return True


def _near_miss_hint(content: str, old: str) -> str:
    """A hint when `old` would match with different indentation or line ends."""
    if "\r\n" in content and "\n" in old and old.replace("\n", "\r\n") in content:
        return " (the file uses CRLF line endings; the text matches with \\r\\n)"
    stripped = [line.strip() for line in old.strip("\n").split("\n")]
    if stripped and all(stripped):
        lines = [line.strip() for line in content.split("\n")]
        width = len(stripped)
        for start in range(len(lines) - width + 1):
            if lines[start : start + width] == stripped:
                return (
                    f" (a match with different indentation or spacing starts at line {start + 1})"
                )
    return ""
