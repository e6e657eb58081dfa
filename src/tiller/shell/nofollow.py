"""File operations inside a sandbox copy that never follow a symbolic link.

A command may leave a symlink anywhere in its sandbox (`ln -s /real/project esc`).
Tiller's own copying into and out of the sandbox runs outside any namespace, so a
path string would resolve that link on the host. Every operation here walks from
an open directory descriptor, one component at a time, with `O_NOFOLLOW`; a link
or file standing where a directory must be is replaced, never entered.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat as stat_module
import subprocess
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_COLLECT_BYTES = 10 * 1024 * 1024
"""Files larger than this (10 MiB) are never read back from the sandbox; they stay there."""

SNIFF_BYTES = 8192
"""A file whose first 8 KiB hold a NUL byte is binary and is not read further."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO a command planted must not block Tiller.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TEMP_NAME = ".tiller-sync-tmp"


def open_root(path: str) -> int:
    """A descriptor for the sandbox directory itself (refusing a link)."""
    return os.open(path, _DIR_FLAGS)


def enter(dir_fd: int, name: str) -> int:
    """Open the directory `name` in `dir_fd`, never through a link.

    A directory a command made unreadable (`chmod 000`) is given back its owner's
    rwx first: the sandbox is Tiller's, and a hidden directory must not read as gone.

    Raises:
        OSError: it is not a directory (ELOOP for a link), or cannot be opened.
    """
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        _grant_owner(dir_fd, name)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _grant_owner(dir_fd: int, name: str) -> None:
    """Give the directory `name` owner rwx, through an O_PATH descriptor (never a link)."""
    # O_PATH needs no permission on the directory itself; chmod through /proc/self/fd
    # reaches exactly the directory it names.
    path_fd = os.open(
        name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
    )
    try:
        mode = stat_module.S_IMODE(os.fstat(path_fd).st_mode)
        os.chmod(f"/proc/self/fd/{path_fd}", mode | 0o700)
    finally:
        os.close(path_fd)


def open_dir(root_fd: int, parts: list[str], *, create: bool = False) -> int | None:
    """A descriptor for the directory `parts` below `root_fd`, or None when it is not one.

    With `create`, missing directories are made and anything else in the way (a
    symlink, a file, a FIFO) is removed first. The caller closes the descriptor.
    """
    fd = os.dup(root_fd)
    try:
        for name in parts:
            try:
                child = enter(fd, name)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                # ELOOP (a symlink) or ENOTDIR (a file): never enter it.
                if not create or isinstance(exc, PermissionError):
                    os.close(fd)
                    return None
                os.unlink(name, dir_fd=fd)
                os.mkdir(name, 0o755, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _split(path: str) -> tuple[list[str], str]:
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"not a plain relative path: {path!r}")
    return parts[:-1], parts[-1]


class Tree:
    """Writes into one sandbox directory, reusing descriptors of the directories it enters.

    Use as a context manager; nothing may run in the sandbox meanwhile (no command
    could swap a directory under a kept descriptor, and if one did, the descriptor
    still names the directory Tiller checked, never a link).
    """

    _KEPT = 64

    def __init__(self, path: str) -> None:
        self.root_fd = open_root(path)
        self._dirs: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def __enter__(self) -> Tree:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every descriptor."""
        self._forget_dirs()
        os.close(self.root_fd)

    def _forget_dirs(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()

    def _dir(self, parts: list[str], *, create: bool) -> int | None:
        """A kept descriptor for the directory `parts` (the caller must not close it)."""
        if not parts:
            return self.root_fd
        key = tuple(parts)
        fd = self._dirs.get(key)
        if fd is not None:
            self._dirs.move_to_end(key)
            return fd
        fd = open_dir(self.root_fd, parts, create=create)
        if fd is None:
            return None
        self._dirs[key] = fd
        if len(self._dirs) > self._KEPT:
            os.close(self._dirs.popitem(last=False)[1])
        return fd

    def write(
        self, path: str, write: Callable[[int], None], mode: int | None = None
    ) -> os.stat_result:
        """Create or replace the regular file `path`; returns its stat.

        `write` fills a fresh file through its descriptor. A new name is created with
        `O_EXCL`; an existing entry is replaced by writing a temporary file and renaming
        it over, so a symlink or a hard link a command left is replaced, never written
        through.
        """
        parents, name = _split(path)
        dir_fd = self._dir(parents, create=True)
        if dir_fd is None:
            raise PermissionError(f"cannot enter the directory of {path}")
        try:
            return _fill(dir_fd, name, write, mode)
        except FileExistsError:
            pass
        try:
            os.unlink(_TEMP_NAME, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:  # a command made a directory of that name
            rmtree_at(dir_fd, _TEMP_NAME)
        _fill(dir_fd, _TEMP_NAME, write, mode)
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat_module.S_ISDIR(st.st_mode):
            rmtree_at(dir_fd, name)
            self._forget_dirs()  # kept descriptors may name what was just removed
        os.rename(_TEMP_NAME, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)

    def remove(self, path: str) -> None:
        """Remove `path` if it is there; a link on the way means it is not."""
        parents, name = _split(path)
        dir_fd = self._dir(parents, create=False)
        if dir_fd is None:
            return
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat_module.S_ISDIR(st.st_mode):
                rmtree_at(dir_fd, name)
                self._forget_dirs()
            else:
                os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass

    def ensure_dir(self, path: str) -> None:
        """Make `path` (relative, may be empty) a real directory."""
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise ValueError(f"not a plain relative path: {path!r}")
        if parts and self._dir(parts, create=True) is None:
            raise PermissionError(f"cannot enter {path}")


def _fill(dir_fd: int, name: str, write: Callable[[int], None], mode: int | None) -> os.stat_result:
    """Create `name` (never an existing entry, never through a link), fill it, stat it."""
    fd = os.open(
        name,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o644,
        dir_fd=dir_fd,
    )
    try:
        write(fd)
        if mode is not None:
            os.fchmod(fd, mode)
        return os.fstat(fd)
    finally:
        os.close(fd)


def lstat_at(root_fd: int, path: str) -> os.stat_result | None:
    """The lstat of `path` below `root_fd`, or None when absent or behind a link."""
    parents, name = _split(path)
    dir_fd = open_dir(root_fd, parents)
    if dir_fd is None:
        return None
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class Read:
    """What reading a sandbox file found.

    Attributes:
        data: the whole content, or None when it was not read whole.
        why: `binary`, `too large` or `not a regular file` when `data` is None.
        stat: the file's stat when it was opened.
    """

    data: bytes | None
    why: str = ""
    stat: os.stat_result | None = None


def read_file(dir_fd: int, name: str, limit: int = MAX_COLLECT_BYTES) -> Read | None:
    """Read the regular file `name` in `dir_fd` without following a link; None when gone.

    A file over `limit` bytes, or with a NUL byte in its first `SNIFF_BYTES`, is
    not read whole (a 3 GB sparse file costs one `fstat`).
    """
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError:
        return Read(None, "not a regular file")
    try:
        st = os.fstat(fd)
        if not stat_module.S_ISREG(st.st_mode):
            return Read(None, "not a regular file", st)
        if st.st_size > limit:
            return Read(None, "too large", st)
        head = os.read(fd, SNIFF_BYTES)
        if b"\0" in head:
            return Read(None, "binary", st)
        chunks = [head]
        total = len(head)
        while total <= limit and (chunk := os.read(fd, 1 << 17)):
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while we read it
            return Read(None, "too large", st)
        return Read(b"".join(chunks), "", st)
    finally:
        os.close(fd)


def read_at(root_fd: int, path: str, limit: int = MAX_COLLECT_BYTES) -> Read | None:
    """`read_file` for a path below `root_fd`; None when absent or behind a link."""
    parents, name = _split(path)
    dir_fd = open_dir(root_fd, parents)
    if dir_fd is None:
        return None
    try:
        return read_file(dir_fd, name, limit)
    finally:
        os.close(dir_fd)


def rmtree_at(dir_fd: int, name: str) -> None:
    """Remove the tree `name` in `dir_fd`, even where a command made directories unreadable.

    Raises:
        OSError: it could not be removed.
    """
    try:
        shutil.rmtree(name, dir_fd=dir_fd)
        return
    except (OSError, RecursionError):
        pass
    with contextlib.suppress(OSError, RecursionError):
        _unlock_tree(dir_fd, name)
    try:
        shutil.rmtree(name, dir_fd=dir_fd)
    except RecursionError:
        # Deeper than Python's recursion limit: rm walks it iteratively, links unfollowed.
        subprocess.run(
            ["rm", "-rf", "--one-file-system", "--", f"/proc/self/fd/{dir_fd}/{name}"],
            check=False,
            pass_fds=(dir_fd,),
        )


def _unlock_tree(dir_fd: int, name: str) -> None:
    """Give every directory below `name` owner rwx (a command may have chmod'ed them 000)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    if not stat_module.S_ISDIR(st.st_mode):
        return
    try:
        fd = enter(dir_fd, name)
    except OSError:
        return
    try:
        with os.scandir(fd) as entries:
            subdirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        for sub in subdirs:
            _unlock_tree(fd, sub)
    finally:
        os.close(fd)


def remove_tree(path: str) -> None:
    """Remove the directory `path` and everything in it, whatever its modes; never raises."""
    parent, name = os.path.split(path.rstrip("/"))
    try:
        parent_fd = os.open(parent or "/", _DIR_FLAGS)
    except OSError:
        return
    try:
        rmtree_at(parent_fd, name)
    except OSError:
        pass
    finally:
        os.close(parent_fd)
