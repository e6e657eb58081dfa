"""A private directory that mirrors the workspace, where shell commands run.

Commands never see the real tree. Before each command the sandbox is brought up
to date with the workspace (the base's files with the in-memory changes on top);
afterwards, whatever the command created, changed or deleted is written back
into the workspace overlay, so it shows in the tree and diff and flushes like
any other edit. Both directions are incremental: a file is copied only when its
source changed, and read back only when its stat changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat as stat_module
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from tiller.errors import WorkspaceError
from tiller.workspace import Workspace
from tiller.workspace.base import BaseTree, read_bytes
from tiller.workspace.content import decode_text

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
    """

    changes: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


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
        self._path: Path | None = None
        self._mirrored: dict[str, _Mirrored] = {}

    @property
    def path(self) -> Path:
        """The sandbox directory, created on first use."""
        if self._path is None:
            prefix = f"tiller-sandbox-{self._label}-" if self._label else "tiller-sandbox-"
            self._path = Path(tempfile.mkdtemp(prefix=prefix, dir=self._parent))
        return self._path

    def close(self) -> None:
        """Delete the sandbox directory and everything in it."""
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None
            self._mirrored.clear()

    # -- workspace -> sandbox ------------------------------------------------------------

    def sync(self) -> int:
        """Make the sandbox hold exactly what the workspace holds; returns files copied.

        Files the workspace no longer has are removed; untracked files (caches a
        command left) stay.
        """
        root = self.path
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

        for path in [p for p in self._mirrored if p not in wanted]:
            _remove(root / path)
            del self._mirrored[path]

        copied = 0
        for path, (key, text, disk) in wanted.items():
            known = self._mirrored.get(path)
            # `collect` saw every change the last command made, so a known stat is current.
            if known is not None and known.key == key and known.stat is not None:
                continue
            target = root / path
            self._place(path, target, text, disk)
            self._mirrored[path] = _Mirrored(key, _lstat(target))
            copied += 1
        return copied

    def _place(self, path: str, target: Path, text: str | None, disk: str | None) -> None:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        if disk is not None:
            shutil.copy2(disk, target)
            return
        assert text is not None
        target.write_bytes(text.encode("utf-8", "surrogatepass"))
        root = self.workspace.root
        if root is not None:
            # An edited script stays executable, as it would be once flushed.
            with contextlib.suppress(OSError):
                os.chmod(target, stat_module.S_IMODE(os.stat(root / path).st_mode))

    # -- sandbox -> workspace ------------------------------------------------------------

    def collect(self) -> Collected:
        """Bring what a command created, changed or deleted back into the workspace."""
        root = str(self.path)
        out = Collected()
        # One walk finds new files and the stat of every visible one; only mirrored
        # files the walk cannot see (ignored, or gone) need a look of their own.
        seen: set[str] = set()
        for path, entry in BaseTree(root).walk():
            seen.add(path)
            known = self._mirrored.get(path)
            if known is None:
                if not _NOISE.match_file(path):
                    self._bring_back(path, None, out)
                continue
            try:
                st = _stat_key(entry.stat(follow_symlinks=False))
            except OSError:
                continue
            if st != known.stat:
                self._bring_back(path, known, out)
        for path, known in list(self._mirrored.items()):
            if path in seen:
                continue
            try:
                st_full = os.lstat(f"{root}/{path}")
            except OSError:
                st_full = None
            if st_full is None or not stat_module.S_ISREG(st_full.st_mode):
                del self._mirrored[path]
                if self.workspace.exists(path) and not self.workspace.is_dir(path):
                    self.workspace.delete(path)
                    out.changes.append((path, "deleted"))
            elif _stat_key(st_full) != known.stat:
                self._bring_back(path, known, out)
        return out

    def _bring_back(self, path: str, known: _Mirrored | None, out: Collected) -> None:
        file = f"{self.path}/{path}"
        try:
            data = read_bytes(file)
            st = _stat_key(os.lstat(file))
        except OSError:
            return
        text = decode_text(data)
        if text is None:
            out.skipped.append(path)
            if known is not None:
                known.stat = None  # restore the workspace's version on the next sync
            return
        existed = self.workspace.exists(path)
        try:
            same = existed and self.workspace.read(path) == text
        except WorkspaceError:
            same = False
        if not same:
            try:
                self.workspace.write(path, text)
            except WorkspaceError:
                out.skipped.append(path)
                return
            out.changes.append((path, "modified" if existed else "added"))
        key = known.key if same and known is not None else ("mem", _digest(text))
        self._mirrored[path] = _Mirrored(key, st)


def _lstat(file: Path | str) -> Stat | None:
    try:
        return _stat_key(os.lstat(file))
    except OSError:
        return None


def _remove(target: Path) -> None:
    try:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    except OSError:
        pass
