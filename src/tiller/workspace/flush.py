"""Writing overlay changes to the root: conflict checks, atomic writes, deletes."""

from __future__ import annotations

import os
import secrets
import stat as stat_module
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tiller.errors import FlushError, PathEscapeError
from tiller.workspace.base import MISSING, BaseTree, Snapshot, signature
from tiller.workspace.flush_lock import TEMP_SUFFIX, record_intent, remove_leftovers
from tiller.workspace.paths import parent


@dataclass(frozen=True)
class PendingChange:
    """One path to flush.

    Attributes:
        path: the workspace path.
        data: the new bytes, or None to delete the file.
        seen: what the workspace saw on disk before changing the path.
    """

    path: str
    data: bytes | None
    seen: Snapshot


def _blocked_by_file(tree: BaseTree, path: str, deleting: set[str]) -> bool:
    """Whether an ancestor of `path` exists on disk as a non-directory that stays."""
    ancestor = parent(path)
    while ancestor:
        full = tree.abspath(ancestor)
        if os.path.lexists(full) and not os.path.isdir(full):
            return ancestor not in deleting
        ancestor = parent(ancestor)
    return False


def resolve_targets(tree: BaseTree, changes: list[PendingChange]) -> None:
    """Check, before anything is written, that every path still resolves inside the root.

    Raises:
        PathEscapeError: a symlink along some path now points outside the root.
    """
    for change in changes:
        tree.resolve(change.path)


def _emptied_dir(tree: BaseTree, path: str, deleting: set[str]) -> bool:
    """Whether `path` is a directory on disk holding only files this flush deletes."""
    full = tree.abspath(path)
    if os.path.islink(full) or not os.path.isdir(full):
        return False
    for directory, _, names in os.walk(full):
        relative = os.path.relpath(directory, tree.root_real)
        for name in names:
            if os.path.normpath(os.path.join(relative, name)) not in deleting:
                return False
    return True


def find_conflicts(tree: BaseTree, changes: list[PendingChange], quick: bool = False) -> list[str]:
    """Every path whose disk state differs from what the workspace saw, sorted.

    A file to be written where the disk has a directory is fine only when the
    flush deletes everything in it (ignored files included). `quick` trusts an
    unchanged stat signature instead of reading the file (for markers drawn on
    every refresh; a flush always compares content).
    """
    deleting = {change.path for change in changes if change.data is None}
    conflicts = []
    for change in changes:
        target = tree.resolve(change.path)
        if change.data is not None and not change.seen.exists and os.path.isdir(target):
            matches = _emptied_dir(tree, change.path, deleting)
        elif quick and _unchanged_signature(change.seen, target):
            matches = True
        else:
            matches = change.seen.matches_disk(target)
        if not matches or (
            change.data is not None and _blocked_by_file(tree, change.path, deleting)
        ):
            conflicts.append(change.path)
    return sorted(conflicts)


def _unchanged_signature(seen: Snapshot, target: str) -> bool:
    """Whether a stat alone proves the file still holds what `seen` read."""
    if not seen.exists:
        return False
    try:
        return seen.trusted_signature(os.stat(target))
    except OSError:
        return False


def temp_name(target: str) -> str:
    """A fresh hidden temp file name next to `target` (short enough for any file system)."""
    directory, name = os.path.split(target)
    stem = os.fsdecode(os.fsencode(name)[:200])
    return os.path.join(directory, f".{stem}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def open_parent(root_real: str, target: str, create: bool = False) -> tuple[int, str]:
    """A descriptor of `target`'s directory, walked down from the root without following links.

    `target` is a resolved path inside the root (no symlinks in it when the
    flush planned it). Walking it again one component at a time with
    `O_NOFOLLOW` means a directory swapped for a symlink while the flush runs
    (perhaps one leading out of the root) is refused, never written through.
    With `create`, missing directories are made. Returns the descriptor (the
    caller closes it) and the last component.

    Raises:
        OSError: a component is a link or a file (ELOOP, ENOTDIR), or missing.
    """
    relative = os.path.relpath(target, root_real)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        raise PathEscapeError(f"{target} is outside the workspace root")
    *parts, name = relative.split(os.sep)
    fd = os.open(root_real, _DIR_FLAGS)
    try:
        for part in parts:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, name


def write_atomic(root_real: str, target: str, data: bytes, temp: str | None = None) -> None:
    """Write `data` to `target` via a temp file in the same directory and `os.replace`.

    Every step goes through a descriptor of the target's directory reached by
    `open_parent`, so no symlink is followed on the way. An existing file
    keeps its permission bits; a new one gets the umask default. No fsync:
    the rename makes the write atomic for readers, and durability is left to
    the OS, as git does by default.
    """
    dir_fd, name = open_parent(root_real, target, create=True)
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            mode: int | None = (
                stat_module.S_IMODE(st.st_mode) if stat_module.S_ISREG(st.st_mode) else None
            )
        except FileNotFoundError:
            mode = None
        temp_base = os.path.basename(temp or temp_name(target))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temp_base, flags, 0o666 if mode is None else 0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
            os.replace(temp_base, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp_base, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)


def remove_file(tree: BaseTree, path: str) -> None:
    """Delete a file (a symlink itself, not its target) and prune emptied directories.

    Walks to the file's directory without following links (see `open_parent`).
    """
    directory = tree.resolve(parent(path))
    root = tree.root_real
    target = os.path.join(directory, path.rpartition("/")[2])
    try:
        dir_fd, name = open_parent(root, target)
    except FileNotFoundError:
        return
    try:
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    while directory != root and directory.startswith(root.rstrip("/") + "/"):
        try:
            up_fd, name = open_parent(root, directory)
        except OSError:
            break
        try:
            os.rmdir(name, dir_fd=up_fd)
        except OSError:
            break
        finally:
            os.close(up_fd)
        directory = os.path.dirname(directory)


def _still_as_checked(change: PendingChange, target: str) -> bool:
    """Whether the disk still holds what the conflict check accepted for `change`."""
    if change.data is not None and not change.seen.exists and os.path.isdir(target):
        return True  # an emptied directory: the deletes before removed it, or the rename fails
    return change.seen.matches_disk(target)


def apply_changes(
    tree: BaseTree,
    changes: list[PendingChange],
    done: dict[str, Snapshot],
    intent: Path,
    overwrite: set[str] | None = None,
) -> None:
    """Apply deletes, then writes, recording each flushed path's new snapshot in `done`.

    The temp file names are recorded in `intent` before any is created, so a
    kill part way leaves a list of what to clean up; the list goes once the
    flush ends. Unless `overwrite` is None (forced) or names it, each file is
    checked again just before it is replaced or deleted: one saved while the
    flush ran (an editor, a formatter) stops the flush there and is kept.

    Raises:
        FlushError: an OS error, or a file changed meanwhile, stopped the flush
            part way; `done` holds what finished.
    """
    ordered = sorted(changes, key=lambda change: (change.data is not None, change.path))
    targets = {c.path: tree.resolve(c.path) for c in ordered if c.data is not None}
    temps = {path: temp_name(target) for path, target in targets.items()}
    if temps:
        try:
            record_intent(intent, temps.values())
        except OSError as exc:
            raise FlushError(f"Flush not started: {exc.strerror or exc}", []) from exc
    try:
        for change in ordered:
            if overwrite is not None and change.path not in overwrite:
                target = targets.get(change.path) or tree.resolve(change.path)
                if not _still_as_checked(change, target):
                    raise FlushError(
                        f"Flush stopped at {change.path}: it changed on disk while the flush "
                        f"ran and was kept as it is; already flushed: "
                        f"{', '.join(sorted(done)) or 'nothing'}",
                        sorted(done),
                    )
            try:
                if change.data is None:
                    remove_file(tree, change.path)
                    done[change.path] = MISSING
                else:
                    target = targets[change.path]
                    write_atomic(tree.root_real, target, change.data, temps[change.path])
                    done[change.path] = snapshot_of_written(target, change.data)
            except OSError as exc:
                raise FlushError(
                    f"Flush stopped at {change.path}: {exc.strerror or exc}; "
                    f"already flushed: {', '.join(sorted(done)) or 'nothing'}",
                    sorted(done),
                ) from exc
    except BaseException:
        remove_leftovers(intent)
        raise
    if temps:
        with suppress(OSError):
            intent.unlink()


def snapshot_of_written(target: str, data: bytes) -> Snapshot:
    """The snapshot of a file we just wrote, without reading it back."""
    st = os.stat(target)
    return Snapshot(data, signature(st), stat_module.S_IMODE(st.st_mode), time.time_ns())
