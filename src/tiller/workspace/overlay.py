"""`Workspace`: an in-memory overlay over an optional read-only directory."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from tiller.errors import BinaryFileError, FileTooLargeError, FlushConflict, WorkspaceError
from tiller.workspace.base import (
    MISSING,
    BaseTree,
    Snapshot,
    content_digest,
    read_head,
    take_snapshot,
)
from tiller.workspace.checkpoints import Checkpoints
from tiller.workspace.content import SNIFF_BYTES, encode_text, head_is_binary
from tiller.workspace.diff import binary_note, file_diff, rename_diff
from tiller.workspace.edits import replace_exact
from tiller.workspace.flush import PendingChange, apply_changes, find_conflicts, resolve_targets
from tiller.workspace.flush_lock import clean_if_idle, root_lock
from tiller.workspace.globs import compile_glob, literal_prefix
from tiller.workspace.layers import Layers
from tiller.workspace.paths import is_under, join, printable
from tiller.workspace.ranges import MAX_SCAN_BYTES, LineRange, ScanLimitReached, stream_line_range
from tiller.workspace.renames import Rename, find_renames
from tiller.workspace.search import (
    GrepHit,
    GrepResult,
    LineMatcher,
    filter_by_glob,
    grep_files,
    newest_first,
)

_T = TypeVar("_T")

ChangeListener = Callable[[str, str], None]
"""Called as `listener(path, action)`; action is write, edit, delete, undo, redo, revert
or flush."""


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
        self._root: Path | None = None
        tree = None
        if root is not None:
            absolute = os.path.abspath(os.fspath(root))
            if not os.path.isdir(absolute):
                raise WorkspaceError(f"Workspace root is not a directory: {root}")
            self._root = Path(absolute)
            tree = BaseTree(absolute)
            clean_if_idle(tree.root_real)
        self._layers = Layers(tree, self._lock)
        self._checkpoints = Checkpoints()
        self._listeners: list[ChangeListener] = []
        self._version = 0  # bumped by every change: keys the renames cache
        self._renames: tuple[int, list[Rename]] = (-1, [])
        self.on_change: ChangeListener | None = None
        for path, content in (files or {}).items():
            self._layers.put(self._layers.normalize(path), content)

    def __repr__(self) -> str:
        counts = f"files={len(self._layers.files)}, deleted={len(self._layers.deleted)}"
        return f"Workspace(root={self._root}, {counts})"

    @property
    def root(self) -> Path | None:
        """The base directory, or None for a purely in-memory workspace."""
        return self._root

    # -- listeners ----------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Call `listener(path, action)` after every change; returns an unsubscribe function.

        Actions are `write`, `edit`, `delete`, `undo`, `redo`, `revert` and `flush`.
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
            self._version += 1
            listeners = [*self._listeners, *([self.on_change] if self.on_change else [])]
        for path in sorted(paths):
            for listener in listeners:
                try:
                    listener(path, action)
                except Exception:  # a broken listener must not undo an edit
                    continue

    # -- reading ------------------------------------------------------------------

    def resolve_path(self, path: str, deleting: bool = False) -> str:
        """The workspace path `path` names: normalised, with symlinks inside the root resolved.

        Two spellings of one file (`./a.txt` and `a.txt`, or a symlink and its
        target) give the same result.

        Args:
            path: a path as a user or the model wrote it.
            deleting: the caller is about to delete or move the file; a
                symlink is refused then (see `delete`).

        Raises:
            PathEscapeError: the path leaves the root.
            WorkspaceError: an invalid path, or a symlink to delete.
        """
        if deleting:
            _refuse_directory_syntax(path)
            self._refuse_link(path)
        return self._layers.normalize(path)

    def exists(self, path: str) -> bool:
        """Whether a file or directory exists in the workspace."""
        path = self._layers.normalize(path)
        with self._lock:
            return self._layers.kind(path) is not None

    def is_dir(self, path: str) -> bool:
        """Whether `path` is a directory in the workspace."""
        path = self._layers.normalize(path)
        with self._lock:
            return self._layers.kind(path) == "dir"

    def is_binary(self, path: str) -> bool:
        """Whether `path` is a binary base file (overlay content is always text).

        A file over `MAX_READ_BYTES` is judged by its first `SNIFF_BYTES` only.

        Raises:
            FileNotFoundInWorkspace: no such file.
            WorkspaceError: the path is a directory.
        """
        path = self._layers.normalize(path)
        with self._lock:
            if path in self._layers.files:
                return False
            self._layers.require(path, "file")
            try:
                return self._layers.base_snapshot(path).text is None
            except FileTooLargeError:
                pass
        # Too large to decode whole: the first bytes decide, as for grep.
        return head_is_binary(self._base_file(path, read_head))

    def read(self, path: str) -> str:
        """The text of a file: the overlay's if written, else the base's.

        Raises:
            FileNotFoundInWorkspace: no such file (or it was deleted).
            BinaryFileError: the base file is binary.
            WorkspaceError: the path is a directory.
        """
        path = self._layers.normalize(path)
        with self._lock:
            content = self._layers.files.get(path)
            if content is not None:
                return content
            self._layers.require(path, "file")
            snapshot = self._layers.base_snapshot(path)
            if not snapshot.exists:
                raise self._layers.not_found(path)
            text = snapshot.text
            if text is None:
                raise BinaryFileError(f"{path} is a binary file and cannot be read as text")
            return text

    def read_range(self, path: str, offset: int = 1, limit: int | None = None) -> LineRange:
        """Lines `offset` (1-based) to `offset + limit - 1` of a text file, without line ends.

        Lines are split on `\n`, and a `\r` at the end of each is dropped. A base file
        over `MAX_READ_BYTES` is not read whole: its lines are streamed a
        megabyte at a time, lines over `MAX_KEPT_LINE_BYTES` are cut (see
        `LineRange.dropped`), the total is known only when the read reached
        the end, and the range must start within the first `MAX_SCAN_BYTES`.

        Raises:
            FileNotFoundInWorkspace: no such file.
            BinaryFileError: the file is binary.
            WorkspaceError: the path is a directory, `offset` or `limit` is
                below 1, or the range starts too far into a huge file.
        """
        if offset < 1 or (limit is not None and limit < 1):
            raise WorkspaceError("offset and limit must be at least 1")
        path = self._layers.normalize(path)
        try:
            text = self.read(path)
        except FileTooLargeError as exc:
            return self._stream_range(path, offset, limit, exc.size)
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        lines = [line.removesuffix("\r") for line in lines]
        end = len(lines) if limit is None else offset - 1 + limit
        return LineRange(lines[offset - 1 : end], len(lines), end < len(lines))

    def _stream_range(self, path: str, offset: int, limit: int | None, size: int) -> LineRange:
        if head_is_binary(self._base_file(path, read_head)):
            raise BinaryFileError(f"{path} is a binary file and cannot be read as text")
        try:
            return self._base_file(path, lambda file: stream_line_range(file, offset, limit))
        except ScanLimitReached:
            raise WorkspaceError(
                f"Line {offset} of {path} ({size} bytes) lies beyond the first "
                f"{MAX_SCAN_BYTES} bytes, further than Tiller reads into a file"
            ) from None

    def _base_file(self, path: str, reader: Callable[[str], _T]) -> _T:
        """Run `reader` on the disk file behind a workspace path, with OS errors as ours."""
        tree = self._layers.tree
        if tree is None:
            raise self._layers.not_found(path)
        try:
            return reader(tree.resolve(path))
        except FileNotFoundError:
            raise self._layers.not_found(path) from None
        except OSError as exc:
            raise WorkspaceError(f"Cannot read {path}: {exc.strerror}") from None

    def files(self) -> dict[str, str]:
        """The in-memory map (seeded, written and edited files), sorted by path.

        Untouched base files are never included.
        """
        with self._lock:
            files = self._layers.files
            return {path: files[path] for path in sorted(files)}

    def base_files(self) -> dict[str, str]:
        """Visible base files the overlay leaves untouched, as `path -> file on disk`.

        Together with `files()` this is everything the workspace holds; the shell
        sandbox mirrors the two. Ignored files and `.git/` are not included.
        """
        with self._lock:
            tree = self._layers.tree
            if tree is None:
                return {}
            files, deleted = self._layers.files, self._layers.deleted
            return {
                path: entry.path
                for path, entry in tree.walk()
                if path not in files and path not in deleted
            }

    def list_dir(self, path: str = "") -> list[str]:
        """Names of the immediate children of a directory, sorted; directories end in `/`.

        Raises:
            FileNotFoundInWorkspace: no such directory.
            WorkspaceError: the path is a file.
        """
        path = self._layers.normalize(path)
        with self._lock:
            self._layers.require(path, "dir")
            entries = self._layers.children(path)
        return sorted(name + "/" if is_dir else name for name, is_dir in entries.items())

    # -- searching ----------------------------------------------------------------

    def glob(self, pattern: str, path: str = "") -> list[str]:
        """Files under `path` whose path relative to it matches a glob.

        `*`, `?`, `[...]` and `{a,b}` stay within one segment; `**` spans
        directories. Results are workspace paths: overlay files first (newest by
        definition), then base files by modification time, newest first.

        Raises:
            FileNotFoundInWorkspace: `path` does not exist.
            WorkspaceError: `path` is a file, or the pattern is empty.
        """
        directory = self._layers.normalize(path)
        pattern = pattern.removeprefix("./")
        if pattern.startswith("/"):
            directory, pattern = "", self._layers.normalize(pattern)
        regex = compile_glob(pattern)
        with self._lock:
            self._layers.require(directory, "dir")
            overlay = [key for key in self._layers.files if is_under(key, directory)]
            shadowed = self._layers.files.keys() | self._layers.deleted
        tree = self._layers.tree
        cut = len(directory) + 1 if directory else 0
        hits = sorted(key for key in overlay if regex.match(key[cut:]))
        start = join(directory, literal_prefix(pattern))
        if tree is not None and tree.kind(start) == "dir":
            hits += newest_first(tree, start, regex, cut, shadowed.__contains__)
        return hits

    def grep(
        self,
        pattern: str,
        path: str = "",
        glob: str | None = None,
        case_insensitive: bool = False,
        max_results: int | None = 100,
    ) -> list[GrepHit]:
        """Lines matching a regex, as `(path, 1-based line number, line)`.

        Searches overlay and base files (overlay content wins) in path order,
        skipping binary files and files over `MAX_GREP_FILE_BYTES`, and stops
        once `max_results` lines are found. `search` also says what was skipped.

        Args:
            pattern: an RE2 pattern (Python syntax without lookaround or
                backreferences; matching takes linear time), searched within each line.
            path: a file or directory to search.
            glob: only files matching it; without a `/` it matches file names,
                with one, paths relative to `path`.
            case_insensitive: match regardless of case.
            max_results: the most lines to return; None for no limit.

        Raises:
            WorkspaceError: an invalid or unsupported regex (the message says what
                to write instead), an invalid glob, or `max_results` below 1.
            FileNotFoundInWorkspace: `path` does not exist.
        """
        return self.search(pattern, path, glob, case_insensitive, max_results).hits

    def search(
        self,
        pattern: str,
        path: str = "",
        glob: str | None = None,
        case_insensitive: bool = False,
        max_results: int | None = 100,
        cancel: threading.Event | None = None,
    ) -> GrepResult:
        """`grep` with the files it skipped for size, and an early stop when `cancel` is set.

        Cancel is checked between files. Arguments and errors are as for `grep`.
        """
        matcher = LineMatcher(pattern, case_insensitive)
        if max_results is not None and max_results < 1:
            raise WorkspaceError("max_results must be at least 1")
        root = self._layers.normalize(path)
        with self._lock:
            kind = self._layers.kind(root)
            if kind is None:
                raise self._layers.not_found(root)
            files = self._layers.files
            overlay = dict(files)
            deleted = set(self._layers.deleted)
        tree = self._layers.tree
        links: set[str] = set()
        if kind == "file":
            candidates = [root]
        else:
            found = {key for key in overlay if is_under(key, root)}
            if tree is not None and tree.kind(root) == "dir":
                for file, entry in tree.walk(root):
                    if file not in deleted:
                        found.add(file)
                        if entry.is_symlink():
                            links.add(file)
            candidates = filter_by_glob(sorted(found), glob, root) if glob else sorted(found)
        pairs = self._read_through(candidates, overlay, deleted, links)
        return grep_files(pairs, overlay, tree, matcher, max_results, cancel)

    def _read_through(
        self, paths: list[str], overlay: Mapping[str, str], deleted: set[str], links: set[str]
    ) -> list[tuple[str, str]]:
        """`(path, path to read)` for each, with symlink aliases read as their target.

        An alias whose target is also listed is left out, so each real file is
        searched once, under its own name.
        """
        tree = self._layers.tree
        if tree is None or not links:
            return [(path, path) for path in paths]
        listed = set(paths)
        out: list[tuple[str, str]] = []
        for path in paths:
            target = tree.real_path(path) if path in links else path
            if target is None or target == path:
                out.append((path, path))
            elif target not in listed and target not in deleted:
                out.append((path, target))
        return out

    # -- changing -----------------------------------------------------------------

    def write(self, path: str, content: str) -> None:
        """Create or overwrite a file in memory (parent directories are implied).

        Raises:
            WorkspaceError: the path is a directory, a parent is a file, or the
                content cannot be encoded as UTF-8.
        """
        _refuse_directory_syntax(path)
        path = self._layers.normalize(path)
        with self._lock:
            self._layers.put(path, content)
        self._notify([path], "write")

    def edit(self, path: str, old: str, new: str, replace_all: bool = False) -> int:
        """Replace an exact substring of a file; returns how many occurrences changed.

        Raises:
            EditError: `old` is empty, identical to `new`, missing, or not unique
                without `replace_all`.
            FileNotFoundInWorkspace: no such file.
        """
        _refuse_directory_syntax(path)
        path = self._layers.normalize(path)
        with self._lock:
            updated, count = replace_exact(path, self.read(path), old, new, replace_all)
            self._layers.put(path, updated)
        self._notify([path], "edit")
        return count

    def delete(self, path: str) -> None:
        """Delete a file from the workspace (a tombstone over the base until flushed).

        Raises:
            FileNotFoundInWorkspace: no such file.
            WorkspaceError: the path is a directory.
        """
        _refuse_directory_syntax(path)
        self._refuse_link(path)
        path = self._layers.normalize(path)
        with self._lock:
            self._layers.remove(path)
        self._notify([path], "delete")

    def _refuse_link(self, path: str) -> None:
        """Refuse to delete a symlink: the overlay edits real files, never links themselves."""
        tree = self._layers.tree
        if tree is None:
            return
        lexical = self._layers.lexical(path)
        if lexical and lexical not in self._layers.files and tree.is_link(lexical):
            target = self._layers.normalize(path)
            raise WorkspaceError(
                f"{lexical} is a symbolic link to {target}; Tiller edits the file it points to "
                f"and cannot delete the link itself. Delete {target} to remove the file."
            )

    # -- changes, diff, flush -------------------------------------------------------

    def _wanted(self, paths: Iterable[str] | str | None) -> list[str] | None:
        if paths is None:
            return None
        if isinstance(paths, str):
            paths = [paths]
        return [self._layers.normalize(path) for path in paths]

    def changes(self) -> list[tuple[str, str]]:
        """`(path, kind)` for every change against the base, sorted by path.

        Kinds are `added`, `modified` and `deleted`. Writing a base file's own
        content back is no change; neither is creating and then deleting a file.
        """
        with self._lock:
            return self._layers.changes()

    def diff(self, paths: Iterable[str] | str | None = None) -> str:
        """A git-style unified diff of the changes (optionally only under `paths`).

        The patch applies with `git apply` to a clean checkout of the base as
        the workspace saw it. Binary content becomes a `GIT binary patch`. A
        deleted file and an added one with similar text are one rename (see
        `renames`), included when either side is under `paths`.
        """
        wanted = self._wanted(paths)
        items, renames = self._changed_items()
        moves = {rename.new: rename for rename in renames}
        moved_away = {rename.old for rename in moves.values()}
        out = []
        for path, (seen, content) in items.items():
            rename = moves.get(path)
            if rename is not None and content is not None:
                if wanted is None or _under_any((rename.old, rename.new), wanted):
                    old_seen = items[rename.old][0]
                    out.append(rename_diff(rename.old, path, old_seen, content, rename.similarity))
            elif path not in moved_away and (wanted is None or _under_any((path,), wanted)):
                out.append(file_diff(path, seen, content))
        return "".join(out)

    def renames(self) -> list[Rename]:
        """The changes that are moves: a deleted text file and an added one with similar content.

        Git's rule: identical content first, then the most similar pairs with at
        least `RENAME_THRESHOLD` percent of the content kept. `changes()` still
        lists both sides (as `deleted` and `added`); `diff()` writes them as one rename.
        """
        return list(self._changed_items()[1])

    def _changed_items(self) -> tuple[dict[str, tuple[Snapshot, str | None]], list[Rename]]:
        """Each change as `path -> (base snapshot, overlay content)`, and the renames among them.

        Renames are scored once per state of the overlay (front ends ask on every refresh).
        """
        with self._lock:
            layers = self._layers
            version = self._version
            items = {
                path: (layers.seen.get(path, MISSING), layers.files.get(path))
                for path, _ in layers.changes()
            }
            cached_version, cached = self._renames
        if cached_version == version:
            return items, cached
        renames = _renames_of(items)
        with self._lock:
            if self._version == version:
                self._renames = (version, renames)
        return items, renames

    def revert(self, paths: Iterable[str] | str) -> list[str]:
        """Drop the changes under `paths`: those files read from the base again.

        A new file written where a reverted file's directory was is dropped as
        well, since the two cannot both exist.

        A checkpoint is taken first, so `undo` brings the changes back (with the
        bases they were made on, so a disk edit meanwhile stays a conflict).
        Nothing on disk is touched.

        Returns:
            The reverted paths, sorted (empty when nothing under `paths` changed).
        """
        wanted = self._wanted(paths)
        with self._lock:
            reverted = [path for path, _ in self._layers.changes(wanted)]
            # A base file coming back needs its directory: a new file written where that
            # directory was (after all its files were deleted) goes too.
            blocking = {
                ancestor
                for path in reverted
                for ancestor in _ancestors(path)
                if ancestor in self._layers.files
            }
            reverted = sorted({*reverted, *blocking})
            if not reverted:
                return []
            self._checkpoints.push(replace(self._layers.state(), step="revert"))
            for path in reverted:
                self._layers.drop(path)
        self._notify(reverted, "revert")
        return reverted

    def base_digest(self, path: str) -> str | None:
        """The digest of the base a change to `path` was made on (None: no root, or untouched).

        The journal records it next to each change, so a resume can tell whether
        the disk still holds what the change was made on (`pin_base`).
        """
        path = self._layers.normalize(path)
        with self._lock:
            seen = self._layers.seen.get(path)
            if self._layers.tree is None or seen is None:
                return None
            return seen.digest

    def base_text(self, path: str) -> str | None:
        """The text of the base a change to `path` was made on, when the workspace holds it.

        None without a root, for an untouched path, a missing or binary base, or a
        resumed change whose base was never journaled. The journal records it
        beside the change, so a resumed session's diff is still against it.
        """
        path = self._layers.normalize(path)
        with self._lock:
            seen = self._layers.seen.get(path)
            if self._layers.tree is None or seen is None or seen.data is None:
                return None
            if seen.expected is not None and content_digest(seen.data) != seen.expected:
                return None  # the disk's bytes, not the base the change was made on
            return seen.text

    def pin_base(self, path: str, digest: str, text: str | None = None) -> bool:
        """Say a change to `path` was made on a base with `digest` (a resumed session's).

        When the base read now differs, the change keeps that digest as what the
        disk must hold: `conflicts` and `changed_on_disk` list the path and a flush
        refuses to overwrite it unless forced. `text`, the base's content when
        the journal kept it, becomes the old side of diffs again (without it the
        diff is against the disk as it is now); a change made where no file was
        stays an addition. Returns whether it differed.
        """
        path = self._layers.normalize(path)
        with self._lock:
            layers = self._layers
            if layers.tree is None or (path not in layers.files and path not in layers.deleted):
                return False
            seen = layers.touch(path)
            if seen.digest == digest:
                return False
            if path in layers.files and seen.text == layers.files[path]:
                # The disk already holds the change (a flush killed after writing it).
                pinned = replace(seen, expected=digest)
            elif digest == content_digest(None):
                pinned = Snapshot(None, expected=digest)
            elif text is not None and content_digest(text.encode("utf-8")) == digest:
                pinned = Snapshot(text.encode("utf-8"), mode=seen.mode, expected=digest)
            else:
                pinned = replace(seen, expected=digest)
            layers.seen[path] = pinned
        self._notify([path], "pin")
        return True

    def changed_on_disk(self, paths: Iterable[str] | str | None = None) -> list[str]:
        """Changed paths whose disk file differs from the base Tiller read: future conflicts.

        The same check as `conflicts`, made cheap enough to run on every refresh:
        a file whose stat signature is unchanged (and not racy) is not read.
        """
        return self._conflicts(paths, quick=True)

    def disk_diff(self, path: str) -> str:
        """What changed on disk under a changed file since Tiller read it (base -> disk).

        Empty when the disk still holds the base, or when the disk file is too
        large to read (`MAX_READ_BYTES`).
        """
        path = self._layers.normalize(path)
        tree = self._layers.tree
        if tree is None or not self.changed_on_disk(path):
            return ""
        with self._lock:
            seen = self._layers.seen.get(path, MISSING)
        try:
            disk = take_snapshot(tree.resolve(path))
        except (FileNotFoundError, NotADirectoryError):
            disk = MISSING
        except (OSError, FileTooLargeError):
            return ""
        content = disk.text if disk.exists else None
        if disk.exists and (content is None or "\0" in content[:SNIFF_BYTES]):
            return binary_note(path)
        return file_diff(path, seen, content)

    def diff_notes(self, paths: Iterable[str] | str | None = None) -> list[str]:
        """What a front end should say next to an exported `diff()`, one sentence per path.

        `diff()` is always against the files as the workspace read them, so it
        applies to that tree; a file that changed on disk since then is named
        here, because the patch may not apply to the disk as it is now. Names
        that are not UTF-8 are shown with escapes, so every sentence prints.
        """
        return [
            f"{printable(path)} changed on disk after Tiller read it; the patch is against "
            "the version Tiller read and may not apply to the file as it is now"
            for path in self.conflicts(paths)
        ]

    def flush(
        self, paths: Iterable[str] | str | None = None, force: bool | Collection[str] = False
    ) -> list[str]:
        """Write the changes (optionally only under `paths`) to the root directory.

        All or nothing up front: if any file changed on disk since the workspace
        read it (or appeared where there was none), `FlushConflict` lists every
        such path and nothing is written, unless `force`. `force` may also be
        the conflicts the person agreed to overwrite (as `conflicts()` listed
        them): a path that came into conflict after they were listed is still
        refused, so a confirmation never covers a file it did not name. Each file is written
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
        tree = self._layers.tree
        if tree is None:
            raise WorkspaceError(
                "This workspace has no root directory to flush to; export diff() instead"
            )
        wanted = self._wanted(paths)
        # The conflicts that may be overwritten; None: all of them.
        if isinstance(force, bool):
            allowed: set[str] | None = None if force else set()
        else:
            allowed = set(self._wanted(force) or [])
        done: dict[str, Snapshot] = {}
        try:
            self._flush_locked(tree, wanted, allowed, done)
        finally:
            # Also after an error part way: the journal must record what reached the disk.
            if done:
                self._notify(done, "flush")
        return sorted(done)

    def _flush_locked(
        self,
        tree: BaseTree,
        wanted: list[str] | None,
        allowed: set[str] | None,
        done: dict[str, Snapshot],
    ) -> None:
        """Flush under the locks; `allowed` None writes over every conflict."""
        with self._lock, root_lock(tree.root_real) as intent:
            layers = self._layers
            pending = [
                PendingChange(
                    path,
                    None if kind == "deleted" else encode_text(path, layers.files[path]),
                    layers.seen.get(path, MISSING),
                )
                for path, kind in layers.changes(wanted)
            ]
            resolve_targets(tree, pending)
            if allowed is not None:
                conflicts = [c for c in find_conflicts(tree, pending) if c not in allowed]
                if conflicts:
                    raise FlushConflict(conflicts)
            try:
                apply_changes(tree, pending, done, intent, allowed)
            finally:
                layers.mark_flushed(done)
                self._checkpoints.rebase(done)

    def conflicts(self, paths: Iterable[str] | str | None = None) -> list[str]:
        """The changed paths `flush` would refuse now: their disk file changed since read.

        Lets a front end show conflicts before asking to flush; nothing is written.
        Always empty for a workspace without a root.
        """
        return self._conflicts(paths, quick=False)

    def _conflicts(self, paths: Iterable[str] | str | None, quick: bool) -> list[str]:
        tree = self._layers.tree
        if tree is None:
            return []
        wanted = self._wanted(paths)
        with self._lock:
            layers = self._layers
            pending = [
                PendingChange(
                    path, None if kind == "deleted" else b"", layers.seen.get(path, MISSING)
                )
                for path, kind in layers.changes(wanted)
            ]
        # Advisory (flush checks again under the lock): the disk is read without holding it.
        return find_conflicts(tree, pending, quick)

    # -- checkpoints ----------------------------------------------------------------

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

    def next_step(self, which: str = "undo") -> str | None:
        """What `undo` (or, with `"redo"`, `redo`) would move over: `turn`, `revert` or None."""
        with self._lock:
            return self._checkpoints.next_step(which)

    def checkpoint(self) -> None:
        """Remember the overlay as it is now (the engine calls this as each turn starts).

        A new checkpoint discards anything that could have been redone.
        """
        with self._lock:
            self._checkpoints.push(self._layers.state())

    def undo(self) -> bool:
        """Restore the overlay to the last checkpoint; False when there is none.

        Only memory changes: files already flushed stay on disk as the new base.
        """
        with self._lock:
            state = self._checkpoints.undo(self._layers.state())
            if state is None:
                return False
            changed = self._layers.restore(state)
        self._notify(changed, "undo")
        return True

    def redo(self) -> bool:
        """Re-apply the state the last `undo` left; False when there is none."""
        with self._lock:
            state = self._checkpoints.redo(self._layers.state())
            if state is None:
                return False
            changed = self._layers.restore(state)
        self._notify(changed, "redo")
        return True


def _ancestors(path: str) -> list[str]:
    """`a/b/c` -> `a`, `a/b`: the directories a path lies in."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def _under_any(paths: Iterable[str], wanted: list[str]) -> bool:
    return any(is_under(path, w) for path in paths for w in wanted)


def _renames_of(items: Mapping[str, tuple[Snapshot, str | None]]) -> list[Rename]:
    """Renames among changes given as `path -> (base snapshot, overlay content or None)`."""
    deleted: dict[str, str] = {}
    added: dict[str, str] = {}
    for path, (seen, content) in items.items():
        if content is None and seen.text is not None:
            deleted[path] = seen.text
        elif content is not None and not seen.exists and "\0" not in content[:SNIFF_BYTES]:
            added[path] = content
    return find_renames(deleted, added)


def _refuse_directory_syntax(path: str) -> None:
    """A file path ending in `/` names a directory; writing it must not make a file."""
    if isinstance(path, str) and path.rstrip(".").endswith("/") and path.strip("./"):
        raise WorkspaceError(
            f"{path!r} ends with '/', so it names a directory; give a file path such as "
            f"{path.rstrip('./') + '/name.txt'!r}"
        )
