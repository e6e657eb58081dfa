"""A private directory that mirrors the workspace, where shell commands run.

Commands never see the real tree: the sandbox copy is what `bwrap` mounts at the
root's path. Before each command the sandbox is brought up to date with the
workspace (the base's files with the in-memory changes on top); afterwards,
whatever the command created, changed or deleted is written back into the
workspace overlay, so it shows in the tree and diff and flushes like any other
edit. Both directions are incremental: a file is copied only when its source
changed, and read back only when its stat changed.

Everything Tiller does inside the copy goes through `nofollow`: a symlink a
command planted is never written or read through; it is reported and left out.
Files over `MAX_COLLECT_BYTES` or binary by their first 8 KiB stay in the sandbox.

Each sandbox is `<tmp>/tiller-sandbox-*/` holding `tree/` (the copy) and `lock`,
held with `flock` while the sandbox lives; a sandbox whose lock can be taken
belongs to a process that died (kill -9) and is removed when the next starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat as stat_module
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from tiller.errors import WorkspaceError
from tiller.shell.nofollow import (
    MAX_COLLECT_BYTES,
    Read,
    Tree,
    enter,
    lstat_at,
    open_root,
    read_at,
    read_file,
    remove_tree,
)
from tiller.workspace import Workspace
from tiller.workspace.content import decode_text
from tiller.workspace.ignore import Chain, IgnoreFiles, is_ignored

# Build and tool caches a command leaves behind are not changes to bring back,
# even in a project without a .gitignore that says so.
_NOISE = pathspec.GitIgnoreSpec.from_lines(
    [
        "__pycache__/",
        "*.py[cod]",
        ".pytest_cache/",
        ".mypy_cache/",
        ".ruff_cache/",
        ".hypothesis/",
        ".tox/",
        ".nox/",
        ".coverage",
        "node_modules/",
        ".DS_Store",
    ]
)

PREFIX = "tiller-sandbox-"
"""Every sandbox directory's name starts with this."""

MAX_COLLECT_TOTAL_BYTES = 100 * 1024 * 1024
"""What one collect reads back in all (100 MiB): a thousand 9 MB files must not fill memory."""

MAX_DEPTH = 128
"""Directories nested deeper than this in the sandbox are not walked."""

_MAX_GITIGNORE_BYTES = 1 << 20
_STALE_UNLOCKED_SECONDS = 600.0
"""A sandbox directory without a lock file (an older Tiller's) is stale once this old."""

Key = tuple[str, object]
"""Where a mirrored file's content came from: `("disk", signature)` or `("mem", digest)`."""

Stat = tuple[int, int, int, int]


def _stat_key(st: os.stat_result) -> Stat:
    # ctime moves on every write, even one that keeps size and mtime.
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(slots=True)
class _Mirrored:
    key: Key
    stat: Stat | None


@dataclass(slots=True)
class Collected:
    """What one command changed, as brought back into the workspace.

    Attributes:
        changes: `(path, kind)` with kind `added`, `modified` or `deleted`.
        skipped: files the command wrote that the workspace cannot hold (binary).
        too_large: files over `MAX_COLLECT_BYTES`, not read.
        symlinks: `(path, target)` of links the command made; never followed.
        moved: files the command changed that also changed on disk while it ran;
            the disk's version wins (the command's stays in the sandbox until the next sync).
    """

    changes: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    symlinks: list[tuple[str, str]] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)


# -- the directory and its lock ------------------------------------------------------------

_swept: set[tuple[str, str]] = set()
_sweep_lock = threading.Lock()


def take_lock(path: str, *, create: bool) -> int | None:
    """An open, exclusively `flock`ed descriptor for `path`; None when held elsewhere.

    Also what marks a batch's clone directory as alive (`tiller.batch.checkout`).
    """
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_stale(parent: str | Path | None = None, *, prefix: str = PREFIX) -> list[str]:
    """Remove the sandboxes in `parent` (default: the temp dir) whose process died.

    A live sandbox's lock is held by its process; one that can be taken is stale.
    Only directories this user owns are touched. Returns the names removed.
    `prefix` picks other directories kept alive the same way (a batch's clones).
    """
    where = str(parent) if parent is not None else tempfile.gettempdir()
    removed: list[str] = []
    try:
        entries = [e for e in os.scandir(where) if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat_module.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        lock = os.path.join(entry.path, "lock")
        if not os.path.lexists(lock):
            if time.time() - st.st_mtime < _STALE_UNLOCKED_SECONDS:
                continue  # being created right now, or a lock-less leftover still young
            remove_tree(entry.path)
            removed.append(entry.name)
            continue
        fd = take_lock(lock, create=False)
        if fd is None:
            continue
        try:
            remove_tree(entry.path)
            removed.append(entry.name)
        finally:
            os.close(fd)
    return removed


def sweep_once(parent: str, prefix: str = PREFIX) -> None:
    """`remove_stale(parent, prefix=prefix)` the first time this process asks for it."""
    with _sweep_lock:
        if (parent, prefix) in _swept:
            return
        _swept.add((parent, prefix))
    remove_stale(parent, prefix=prefix)


def _release(base: str, lock_fd: int) -> None:
    """Remove a sandbox directory, then let go of its lock (also run at exit)."""
    remove_tree(base)
    with contextlib.suppress(OSError):
        os.close(lock_fd)


class Sandbox:
    """A temporary copy of a workspace that shell commands may change freely.

    Args:
        workspace: the workspace to mirror and to bring changes back into.
        parent: where to create the sandbox directory (default: the system temp dir).
        label: a readable part of the directory name (a session id).
    """

    def __init__(
        self, workspace: Workspace, *, parent: Path | None = None, label: str = ""
    ) -> None:
        self.workspace = workspace
        self._parent = parent
        self._label = label
        self._base: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._mirrored: dict[str, _Mirrored] = {}
        self._left_out: dict[str, Stat] = {}
        self._budget = MAX_COLLECT_TOTAL_BYTES
        self._root_fd = -1  # the copy's root while `collect` runs
        self.never_copied: tuple[str, ...] = ()
        """Paths (and what is below them) never copied in: credentials when the root is ~."""

    @property
    def path(self) -> Path:
        """The sandbox copy (`<dir>/tree`), created on first use."""
        if self._base is None:
            parent = str(self._parent) if self._parent is not None else tempfile.gettempdir()
            sweep_once(parent)
            prefix = f"{PREFIX}{self._label}-" if self._label else PREFIX
            base = tempfile.mkdtemp(prefix=prefix, dir=parent)
            lock_fd = take_lock(os.path.join(base, "lock"), create=True)
            if lock_fd is None:
                remove_tree(base)
                raise OSError(f"cannot lock the new sandbox {base}")
            os.mkdir(os.path.join(base, "tree"), 0o755)
            self._base = Path(base)
            # Removed at close, or at interpreter exit if nobody closed it.
            self._finalizer = weakref.finalize(self, _release, base, lock_fd)
        return self._base / "tree"

    @property
    def directory(self) -> Path | None:
        """The sandbox's own directory (the copy and its lock), None before first use."""
        return self._base

    def close(self) -> None:
        """Delete the sandbox directory and everything in it."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._base = None
        self._mirrored.clear()
        self._left_out.clear()

    def ensure_dir(self, path: str) -> None:
        """Make `path` a real directory in the copy (replacing a link in the way)."""
        with Tree(str(self.path)) as tree:
            tree.ensure_dir(path)

    # -- workspace -> sandbox ------------------------------------------------------------

    def sync(self) -> int:
        """Make the sandbox hold exactly what the workspace holds; returns files copied.

        Files the workspace no longer has are removed; untracked files (caches a
        command left) stay.
        """
        tree = str(self.path)
        overlay = self.workspace.files()
        base = self.workspace.base_files()
        wanted: dict[str, tuple[Key, str | None, str | None]] = {}
        for path, text in overlay.items():
            wanted[path] = (("mem", _digest(text)), text, None)
        for path, disk in base.items():
            try:
                st = os.stat(disk)
            except OSError:
                continue
            wanted[path] = (("disk", (st.st_mtime_ns, st.st_size, st.st_ino)), None, disk)
        if self.never_copied:
            prefixes = tuple(p + "/" for p in self.never_copied)
            for path in [p for p in wanted if p in self.never_copied or p.startswith(prefixes)]:
                del wanted[path]

        with Tree(tree) as sandbox:
            for path in [p for p in self._mirrored if p not in wanted]:
                sandbox.remove(path)
                del self._mirrored[path]

            copied = 0
            for path, (key, text, disk) in wanted.items():
                known = self._mirrored.get(path)
                # `collect` saw every change the last command made, so a known stat is current.
                if known is not None and known.key == key and known.stat is not None:
                    continue
                try:
                    st = self._place(sandbox, path, text, disk)
                except (OSError, ValueError):
                    self._mirrored.pop(path, None)
                    continue
                self._mirrored[path] = _Mirrored(key, _stat_key(st))
                self._left_out.pop(path, None)
                copied += 1
        return copied

    def _place(self, tree: Tree, path: str, text: str | None, disk: str | None) -> os.stat_result:
        if disk is not None:
            source = os.open(disk, os.O_RDONLY | os.O_CLOEXEC)
            try:
                mode = stat_module.S_IMODE(os.fstat(source).st_mode)
                return tree.write(path, lambda fd: _copy(source, fd), mode)
            finally:
                os.close(source)
        assert text is not None
        data = text.encode("utf-8", "surrogatepass")
        mode = None
        root = self.workspace.root
        if root is not None:
            # An edited script stays executable, as it would be once flushed.
            with contextlib.suppress(OSError):
                mode = stat_module.S_IMODE(os.stat(root / path).st_mode)
        return tree.write(path, lambda fd: _write_all(fd, data), mode)

    # -- sandbox -> workspace ------------------------------------------------------------

    def collect(self) -> Collected:
        """Bring what a command created, changed or deleted back into the workspace."""
        tree = str(self.path)
        out = Collected()
        self._budget = MAX_COLLECT_TOTAL_BYTES
        seen: set[str] = set()
        root_fd = open_root(tree)
        self._root_fd = root_fd
        try:
            ignore = IgnoreFiles(tree)
            self._walk(root_fd, "", ignore, (), 0, seen, out)
            # Mirrored files the walk cannot see (ignored, gone, or behind a link).
            for path, known in list(self._mirrored.items()):
                if path in seen:
                    continue
                st = lstat_at(root_fd, path)
                if st is None or not stat_module.S_ISREG(st.st_mode):
                    self._forget(path, out)
                elif _stat_key(st) != known.stat:
                    self._bring_back(path, read_at(root_fd, path, self._limit()), out)
        finally:
            self._root_fd = -1
            os.close(root_fd)
        return out

    def _walk(
        self,
        dir_fd: int,
        directory: str,
        ignore: IgnoreFiles,
        chain: Chain,
        depth: int,
        seen: set[str],
        out: Collected,
    ) -> None:
        """Visit every entry below `dir_fd` without following a link (depth-first)."""
        try:
            with os.scandir(dir_fd) as it:
                entries = list(it)
        except OSError:
            return
        if any(e.name == ".gitignore" and _small_file(e) for e in entries):
            # The walk vouched for a regular, small file: reading it by path is safe.
            chain = ignore.extend(chain, directory)
        for entry in entries:
            name = entry.name
            if name == ".git" or name.startswith(".tiller-sync-tmp"):
                continue
            path = f"{directory}/{name}" if directory else name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat_module.S_ISDIR(st.st_mode):
                if depth >= MAX_DEPTH or (chain and is_ignored(chain, path, True)):
                    continue
                try:
                    sub = enter(dir_fd, name)
                except OSError:
                    continue
                try:
                    self._walk(sub, path, ignore, chain, depth + 1, seen, out)
                finally:
                    os.close(sub)
                continue
            if chain and is_ignored(chain, path, False):
                continue
            seen.add(path)
            known = self._mirrored.get(path)
            if stat_module.S_ISLNK(st.st_mode):
                self._link(dir_fd, name, path, st, out)
                if known is not None:
                    self._forget(path, out)
                continue
            if not stat_module.S_ISREG(st.st_mode):
                if known is not None:
                    self._forget(path, out)
                continue
            if known is None:
                if _is_noise(path) or self._left_out.get(path) == _stat_key(st):
                    continue
                self._bring_back(path, read_file(dir_fd, name, self._limit()), out)
            elif _stat_key(st) != known.stat:
                self._bring_back(path, read_file(dir_fd, name, self._limit()), out)

    def _link(self, dir_fd: int, name: str, path: str, st: os.stat_result, out: Collected) -> None:
        if self._left_out.get(path) == _stat_key(st) or _is_noise(path):
            return
        self._left_out[path] = _stat_key(st)
        try:
            target = os.readlink(name, dir_fd=dir_fd)
        except OSError:
            target = "?"
        out.symlinks.append((path, target))

    def _disk_moved(self, path: str) -> bool:
        """Whether the disk file behind `path` changed while the command ran.

        The command worked on the copy `sync` placed. Bringing its result back
        after a person saved the file meanwhile would make their save the base
        of the change, and a flush would overwrite it without a conflict.
        """
        root = self.workspace.root
        if root is None:
            return False
        known = self._mirrored.get(path)
        if known is not None and known.key[0] == "mem":
            return False  # an overlay change: the workspace pinned its base already
        try:
            st = os.stat(root / path)
        except OSError:
            return known is not None  # a base file the person deleted meanwhile
        if known is not None:
            return known.key[1] != (st.st_mtime_ns, st.st_size, st.st_ino)
        if stat_module.S_ISDIR(st.st_mode):
            # The directory the command replaced by this file (its files were mirrored).
            return False
        # Not mirrored, yet on disk: it appeared there during the command (unless the
        # workspace deleted it, which pinned its base).
        return path not in dict(self.workspace.changes())

    def _forget(self, path: str, out: Collected) -> None:
        """A mirrored file is gone (or is no longer a regular file): delete it in the workspace."""
        if self._disk_moved(path):
            out.moved.append(path)
            self._mirrored.pop(path, None)
            return
        self._mirrored.pop(path, None)
        if self.workspace.exists(path) and not self.workspace.is_dir(path):
            self.workspace.delete(path)
            out.changes.append((path, "deleted"))

    def _clear_way(self, path: str, out: Collected) -> None:
        """Forget what the command replaced at or above `path`, so the file can come back now.

        A directory it turned into a file still holds mirrored files in the workspace; a
        file it turned into a directory is still a file there. Either would refuse the write.
        """
        if self.workspace.is_dir(path):
            prefix = path + "/"
            for known in [p for p in self._mirrored if p.startswith(prefix)]:
                self._forget_if_gone(known, out)
        parent = path.rpartition("/")[0]
        while parent:
            if parent in self._mirrored:
                self._forget_if_gone(parent, out)
            parent = parent.rpartition("/")[0]

    def _forget_if_gone(self, path: str, out: Collected) -> None:
        if self._root_fd < 0:
            return  # only `collect` knows what the copy holds now
        st = lstat_at(self._root_fd, path)
        if st is None or not stat_module.S_ISREG(st.st_mode):
            self._forget(path, out)

    def _limit(self) -> int:
        return max(0, min(MAX_COLLECT_BYTES, self._budget))

    def _bring_back(self, path: str, read: Read | None, out: Collected) -> None:
        if read is None or read.stat is None:
            return
        self._budget -= len(read.data or b"")
        known = self._mirrored.get(path)
        st = _stat_key(read.stat)
        text = decode_text(read.data) if read.data is not None else None
        if text is None:
            if read.why == "too large":
                out.too_large.append(path)
            elif read.why != "not a regular file":
                out.skipped.append(path)
            self._left_out[path] = st
            if known is not None:
                known.stat = st  # it stays in the sandbox until the workspace's version changes
            return
        if self._disk_moved(path):
            out.moved.append(path)
            self._mirrored.pop(path, None)  # the next sync copies the disk's version
            return
        existed = self.workspace.exists(path)
        try:
            same = existed and self.workspace.read(path) == text
        except WorkspaceError:
            same = False
        if not same:
            self._clear_way(path, out)
            try:
                self.workspace.write(path, text)
            except WorkspaceError:
                out.skipped.append(path)
                return
            out.changes.append((path, "modified" if existed else "added"))
        key = known.key if same and known is not None else ("mem", _digest(text))
        self._mirrored[path] = _Mirrored(key, st)
        self._left_out.pop(path, None)


def _matchable(path: str) -> str:
    """`path` as text the ignore patterns can take (RE2 refuses a non-UTF-8 name's surrogates)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_noise(path: str) -> bool:
    return _NOISE.match_file(_matchable(path))


def _small_file(entry: os.DirEntry[str]) -> bool:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    return stat_module.S_ISREG(st.st_mode) and st.st_size <= _MAX_GITIGNORE_BYTES


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy(source: int, target: int) -> None:
    """Copy a whole file between descriptors in the kernel (no size limit, no big buffers)."""
    while True:
        try:
            sent = os.sendfile(target, source, None, 1 << 30)
        except OSError:
            _copy_slow(source, target)
            return
        if sent == 0:
            return


def _copy_slow(source: int, target: int) -> None:
    while chunk := os.read(source, 1 << 20):
        _write_all(target, chunk)


__all__ = [
    "MAX_COLLECT_BYTES",
    "MAX_COLLECT_TOTAL_BYTES",
    "Collected",
    "Sandbox",
    "remove_stale",
    "take_lock",
]
