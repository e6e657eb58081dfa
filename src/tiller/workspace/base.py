"""The read-only base directory: walking it, and snapshots of its files."""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
import sys
import time
from dataclasses import dataclass
from functools import cached_property

from tiller.errors import FileTooLargeError, WorkspaceError
from tiller.workspace.content import SNIFF_BYTES, decode_text
from tiller.workspace.flush_lock import is_temp_name
from tiller.workspace.ignore import Chain, IgnoreFiles, is_ignored
from tiller.workspace.paths import ensure_inside, join

RACY_WINDOW_NS = 2_000_000_000
"""A file modified this close to when we looked may change again without a new mtime."""


@dataclass(frozen=True)
class Snapshot:
    """What the workspace saw of one base file at one moment.

    Attributes:
        data: the bytes, or None when the file did not exist.
        signature: `(mtime_ns, size, inode)` when it existed.
        mode: the permission bits when it existed.
        taken_ns: wall-clock time of the look.
        expected: set on a resumed session's base when the disk no longer held what
            the journaled change was made on: that content's digest. The bytes
            here are the disk's at the resume; the disk "matches" only while it
            has the expected digest, so flushing over it is a conflict.
    """

    data: bytes | None
    signature: tuple[int, int, int] | None = None
    mode: int | None = None
    taken_ns: int = 0
    expected: str | None = None

    @property
    def exists(self) -> bool:
        """Whether the file existed."""
        return self.data is not None

    @cached_property
    def text(self) -> str | None:
        """The decoded text, or None when missing or binary."""
        return None if self.data is None else decode_text(self.data)

    @cached_property
    def digest(self) -> str:
        """The content digest the overlay's change was made on (`content_digest`).

        Cached: the journal records it with every change to the path.
        """
        return self.expected if self.expected is not None else content_digest(self.data)

    def trusted_signature(self, st: os.stat_result) -> bool:
        """Whether `st` proves the file is unchanged without reading it."""
        if self.expected is not None:
            return False  # the disk already differed at the resume: always read it
        if self.signature != signature(st):
            return False
        return st.st_mtime_ns < self.taken_ns - RACY_WINDOW_NS

    def matches_disk(self, file: str) -> bool:
        """Whether the file on disk still has the content this snapshot saw."""
        try:
            st = os.stat(file)
        except (FileNotFoundError, NotADirectoryError):
            # A parent that is now a file: no file here either.
            return self.digest == content_digest(None)
        except OSError:
            return False
        if self.expected is not None:
            return self._disk_has_expected(file, st)
        if self.data is None or not stat_module.S_ISREG(st.st_mode) or st.st_size != len(self.data):
            return False
        # Compare content even when the stat signature agrees: it costs one read per
        # flushed file and catches rewrites that kept size and mtime.
        try:
            with open(file, "rb") as handle:
                return handle.read() == self.data
        except OSError:
            return False

    def _disk_has_expected(self, file: str, st: os.stat_result) -> bool:
        if not stat_module.S_ISREG(st.st_mode):
            return False
        try:
            with open(file, "rb") as handle:
                return content_digest(handle.read()) == self.expected
        except OSError:
            return False


def content_digest(data: bytes | None) -> str:
    """sha256 of a base file's bytes (hex), or "absent" when there was no file."""
    return "absent" if data is None else hashlib.sha256(data).hexdigest()


def is_git_path(path: str) -> bool:
    """Whether a workspace path lies in a `.git` directory (never part of the workspace)."""
    return "/.git/" in f"/{path}/"


def signature(st: os.stat_result) -> tuple[int, int, int]:
    """The stat fields that change whenever a file's content is rewritten."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


MISSING = Snapshot(None)

MAX_READ_BYTES = 32 * 1024 * 1024
"""Base files larger than this are never read whole (`Workspace.read_range` streams lines)."""

_CHUNK = 1 << 17


def read_bytes(file: str, limit: int | None = None) -> bytes:
    """Read a whole file with raw `os` calls (about twice as fast as `open` for small files).

    Raises:
        OSError: the file cannot be opened or read.
        FileTooLargeError: the file holds more than `limit` bytes (at most
            `limit` + 1 are read: the file may have grown since it was stat'ed).
    """
    if limit is None:
        limit = sys.maxsize
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        chunks = [data]
        total = len(data)
        while total <= limit and (chunk := os.read(fd, min(_CHUNK, limit + 1 - total))):
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileTooLargeError(file, max(total, os.fstat(fd).st_size), limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_head(file: str, size: int = SNIFF_BYTES) -> bytes:
    """The first `size` bytes of a file (fewer when it is shorter).

    Raises:
        OSError: the file cannot be opened or read.
    """
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def take_snapshot(file: str) -> Snapshot:
    """Read a regular file (following symlinks) into a snapshot; MISSING if absent.

    Raises:
        IsADirectoryError: the path is a directory.
        FileTooLargeError: the file is over `MAX_READ_BYTES` (checked before reading).
        WorkspaceError: the path is a special file (a FIFO would block), a
            symlink loop, or unreadable.
    """
    taken = time.time_ns()
    try:
        st = os.stat(file)
        if stat_module.S_ISDIR(st.st_mode):
            raise IsADirectoryError(file)
        if not stat_module.S_ISREG(st.st_mode):
            raise WorkspaceError(f"Not a regular file: {file}")
        if st.st_size > MAX_READ_BYTES:
            raise FileTooLargeError(file, st.st_size, MAX_READ_BYTES)
        data = read_bytes(file, MAX_READ_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    except IsADirectoryError:
        raise
    except PermissionError as exc:
        raise WorkspaceError(f"Permission denied reading {file}") from exc
    except OSError as exc:  # a symlink loop (ELOOP), an I/O error
        raise WorkspaceError(f"Cannot read {file}: {exc.strerror or exc}") from exc
    return Snapshot(data, signature(st), stat_module.S_IMODE(st.st_mode), taken)


class BaseTree:
    """Read-only access to the root directory, honouring `.gitignore` and skipping `.git/`.

    Attributes:
        root: the root as given (absolute).
        root_real: the root with symlinks resolved.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.root_real = os.path.realpath(root)
        self.ignore = IgnoreFiles(self.root_real)

    def abspath(self, path: str) -> str:
        """The on-disk path for a workspace path (symlinks not resolved)."""
        return os.path.join(self.root_real, path) if path else self.root_real

    def real_path(self, path: str) -> str | None:
        """The workspace path of the real file or directory `path` names through symlinks.

        None when the links lead outside the root. Parts that do not exist yet
        are kept as they are, so a new file under a symlinked directory gets
        the directory's real path.
        """
        resolved = os.path.realpath(self.abspath(path))
        root = self.root_real
        if resolved == root:
            return ""
        prefix = root.rstrip("/") + "/"
        if not resolved.startswith(prefix):
            return None
        return resolved[len(prefix) :]

    def is_link(self, path: str) -> bool:
        """Whether the last part of `path` is a symlink on disk."""
        return os.path.islink(self.abspath(path))

    def resolve(self, path: str) -> str:
        """The on-disk path with symlinks resolved, refusing escapes from the root."""
        return ensure_inside(self.root_real, path)

    def kind(self, path: str) -> str | None:
        """`"file"`, `"dir"` or None for a workspace path, following in-root symlinks.

        Raises:
            PathEscapeError: a symlink on the way points outside the root.
        """
        if not path:
            return "dir"
        if is_git_path(path):
            return None
        try:
            st = os.stat(self.abspath(path))
        except OSError:
            return None
        self.resolve(path)
        if stat_module.S_ISDIR(st.st_mode):
            return "dir"
        if stat_module.S_ISREG(st.st_mode):
            return "file"
        return None

    def _symlink_kind(self, full: str) -> str | None:
        """Kind of a symlink's target, or None when it dangles or leaves the root."""
        real = os.path.realpath(full)
        if real != self.root_real and not real.startswith(self.root_real.rstrip("/") + "/"):
            return None
        if os.path.isdir(real):
            return "dir"
        if os.path.isfile(real):
            return "file"
        return None

    def children(self, directory: str) -> list[tuple[str, bool]]:
        """Immediate children of a base directory as `(name, is_dir)`, unsorted.

        Ignored entries are left out unless `directory` is itself ignored (an
        explicit request wins). Symlinks that leave the root are left out.
        """
        chain, explicit = self.ignore.chain_for(directory)
        out: list[tuple[str, bool]] = []
        try:
            with os.scandir(self.abspath(directory)) as entries:
                for entry in entries:
                    name = entry.name
                    if name == ".git" or is_temp_name(name):
                        continue
                    if entry.is_symlink():
                        kind = self._symlink_kind(entry.path)
                        if kind is None:
                            continue
                        is_dir = kind == "dir"
                    elif entry.is_dir(follow_symlinks=False):
                        is_dir = True
                    elif entry.is_file(follow_symlinks=False):
                        is_dir = False
                    else:
                        continue
                    if not explicit and chain and is_ignored(chain, join(directory, name), is_dir):
                        continue
                    out.append((name, is_dir))
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            return []
        except PermissionError as exc:
            raise WorkspaceError(f"Permission denied listing {directory or '.'}") from exc
        return out

    def walk(self, start: str = "") -> list[tuple[str, os.DirEntry[str]]]:
        """Every visible regular file under `start`, as `(path, entry)`, unsorted.

        Symlinked directories are not followed (git does not either); symlinked
        files inside the root are kept, ones pointing outside are dropped. When
        `start` is itself ignored, nothing below it is filtered (explicit wins).
        """
        chain, explicit = self.ignore.chain_for(start)
        if explicit:
            chain = ()
        out: list[tuple[str, os.DirEntry[str]]] = []
        stack: list[tuple[str, Chain]] = [(start, chain)]
        ignore = self.ignore
        root = self.root_real
        while stack:
            directory, chain = stack.pop()
            if not explicit and directory != start:
                chain = ignore.extend(chain, directory)
            try:
                with os.scandir(os.path.join(root, directory) if directory else root) as it:
                    entries = list(it)
            except OSError:
                continue
            for entry in entries:
                name = entry.name
                if name == ".git" or is_temp_name(name):
                    continue
                path = f"{directory}/{name}" if directory else name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if explicit or not chain or not is_ignored(chain, path, True):
                            stack.append((path, chain))
                        continue
                    if entry.is_file(follow_symlinks=False):
                        pass
                    elif entry.is_symlink():
                        if self._symlink_kind(entry.path) != "file":
                            continue
                    else:
                        continue
                except OSError:
                    continue
                if explicit or not chain or not is_ignored(chain, path, False):
                    out.append((path, entry))
        return out

    def snapshot(self, path: str) -> Snapshot:
        """Read a base file into a snapshot (MISSING when absent).

        Raises:
            PathEscapeError: a symlink on the way points outside the root.
            WorkspaceError: the path is a directory or cannot be read.
        """
        if not path:
            raise WorkspaceError("The workspace root is a directory, not a file")
        resolved = self.resolve(path)
        if is_git_path(path):
            return MISSING
        try:
            return take_snapshot(resolved)
        except IsADirectoryError as exc:
            raise WorkspaceError(f"{path} is a directory, not a file") from exc
        except FileTooLargeError as exc:
            raise FileTooLargeError(path, exc.size, MAX_READ_BYTES) from None
