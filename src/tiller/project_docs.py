"""Project instructions: AGENTS.md and the profile's own file, root to cwd, within a budget.

Files are read through the workspace, so seeded in-memory files and unflushed
edits count. The user-level `AGENTS.md` lives on the real disk and comes first;
then each directory from the workspace root down to `cwd` contributes its
`AGENTS.md` followed by the active profile's file (`CLAUDE.md`, `GEMINI.md` or
`.codex/instructions.md`), never another profile's. Later (deeper) text
refines earlier text. `ProjectDocsCache` keeps the result between model calls
and loads again only when one of those files may have changed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from platformdirs import user_config_dir

from tiller.errors import WorkspaceError
from tiller.profiles import Profile

DEFAULT_BUDGET = 32_768
"""Bytes of instruction text (all files together) that reach the system prompt."""

SHARED_FILE = "AGENTS.md"


class DocsSource(Protocol):
    """What project-docs discovery needs from a workspace (`tiller.Workspace` fits)."""

    def exists(self, path: str) -> bool: ...

    def read(self, path: str) -> str: ...


@dataclass(frozen=True)
class ProjectDocs:
    """The project instructions for the system prompt.

    Attributes:
        text: each file wrapped in `<instructions source="...">`, in load order;
            empty when there are none.
        sources: the files included, user-level first, as shown in `text`.
        truncated: the budget cut the text; a visible marker says so.
    """

    text: str = ""
    sources: list[str] = field(default_factory=list)
    truncated: bool = False


def default_user_dir() -> Path:
    """Tiller's user config directory (`~/.config/tiller` on Linux)."""
    return Path(user_config_dir("tiller"))


def truncation_marker(budget: int = DEFAULT_BUDGET) -> str:
    """The visible line that ends truncated instructions."""
    return f"[Project instructions truncated at {budget // 1024}KB]"


def _directories(cwd: str) -> list[str]:
    """Workspace-relative directories from the root ("") down to `cwd`."""
    normal = posixpath.normpath("/" + cwd.replace("\\", "/")).strip("/")
    dirs = [""]
    current = ""
    for part in normal.split("/") if normal else []:
        current = f"{current}/{part}" if current else part
        dirs.append(current)
    return dirs


def candidate_paths(cwd: str, profile: Profile) -> list[str]:
    """The workspace paths that may hold instructions for `cwd`, in load order.

    Args:
        cwd: the working directory, workspace-relative POSIX ("" is the root).
        profile: the active profile; only its own instructions file is considered.

    Returns:
        For each directory from the root to `cwd`: its `AGENTS.md`, then the
        profile's file.
    """
    paths: list[str] = []
    for directory in _directories(cwd):
        for name in (SHARED_FILE, profile.instructions_file):
            paths.append(posixpath.join(directory, name) if directory else name)
    return paths


def _read_user_file(user_dir: Path) -> tuple[str, str] | None:
    path = user_dir / SHARED_FILE
    try:
        return _display(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _display(path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def _read_workspace_file(workspace: DocsSource, path: str) -> str | None:
    try:
        if not workspace.exists(path):
            return None
        return workspace.read(path)
    except (WorkspaceError, OSError, UnicodeDecodeError):
        # A binary, unreadable or escaping file is simply not an instructions file.
        return None


def _collect(
    workspace: DocsSource, cwd: str, profile: Profile, user_dir: Path | None
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    user = _read_user_file(user_dir if user_dir is not None else default_user_dir())
    if user is not None:
        found.append(user)
    for path in candidate_paths(cwd, profile):
        content = _read_workspace_file(workspace, path)
        if content is not None:
            found.append((path, content))
    return [(source, text) for source, text in found if text.strip()]


def _cut_utf8(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `limit` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _render(source: str, body: str) -> str:
    return f'<instructions source="{source}">\n{body.strip(chr(10))}\n</instructions>'


def load_project_docs(
    workspace: DocsSource,
    cwd: str,
    profile: Profile,
    *,
    user_dir: Path | None = None,
    budget: int = DEFAULT_BUDGET,
) -> ProjectDocs:
    """Load the instructions that apply at `cwd`, in order, within `budget` bytes.

    The budget counts the files' own UTF-8 bytes, not the `<instructions>`
    wrappers. The file that crosses it is cut on a character boundary and
    followed by the truncation marker; later files are left out.

    Args:
        workspace: where project files are read (seeded and edited files count).
        cwd: the working directory, workspace-relative POSIX ("" is the root).
        profile: the active profile, which picks the provider-specific file.
        user_dir: the user config directory (default: platformdirs' for `tiller`).
        budget: the shared byte budget.

    Returns:
        The rendered text, its sources and whether it was truncated.
    """
    blocks: list[str] = []
    sources: list[str] = []
    remaining = budget
    truncated = False
    for source, content in _collect(workspace, cwd, profile, user_dir):
        size = len(content.encode("utf-8"))
        if size > remaining:
            cut = _cut_utf8(content, remaining)
            blocks.append(_render(source, f"{cut}\n{truncation_marker(budget)}"))
            sources.append(source)
            truncated = True
            break
        blocks.append(_render(source, content))
        sources.append(source)
        remaining -= size
    return ProjectDocs("\n\n".join(blocks), sources, truncated)


def docs_fingerprint(
    workspace: DocsSource, cwd: str, profile: Profile, *, user_dir: Path | None = None
) -> str:
    """A digest that changes whenever the instructions at `cwd` would change.

    As cheap as loading (the same few reads, no rendering); useful to skip
    re-rendering or to tell the user the instructions changed.

    Args:
        workspace: where project files are read.
        cwd: the working directory, workspace-relative POSIX.
        profile: the active profile.
        user_dir: the user config directory (default: platformdirs' for `tiller`).

    Returns:
        A hex digest of the sources and their contents.
    """
    digest = hashlib.sha256()
    for source, content in _collect(workspace, cwd, profile, user_dir):
        digest.update(source.encode("utf-8") + b"\0" + content.encode("utf-8") + b"\0")
    return digest.hexdigest()


def _signature(path: str) -> tuple[int, int, int] | None:
    """What changes when a file on disk changes: mtime, size and inode; None when absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class ProjectDocsCache:
    """`load_project_docs` for one workspace, loaded again only when a source may have changed.

    A result is reused until one of these changes: a candidate file in the
    workspace (the owner calls `invalidate` from `Workspace.subscribe`), the
    stat signature of the user-level file, the stat signature of a candidate
    file in the base directory on disk (an edit made outside Tiller), `cwd` or
    the profile. Checking costs a few `stat` calls instead of the reads.

    Args:
        workspace: where project files are read.
        user_dir: the user config directory (default: platformdirs' for `tiller`,
            resolved on first use).
        budget: the shared byte budget.
    """

    def __init__(
        self, workspace: DocsSource, *, user_dir: Path | None = None, budget: int = DEFAULT_BUDGET
    ) -> None:
        self._workspace = workspace
        self._user_dir = user_dir
        self._budget = budget
        self._lock = threading.Lock()
        self._generation = 0
        self._candidates: frozenset[str] = frozenset()
        self._paths: tuple[str, Profile, list[str]] | None = None
        self._key: tuple[Any, ...] | None = None
        self._docs = ProjectDocs()

    def invalidate(self, path: str) -> None:
        """Forget the result if `path` (workspace-relative, as reported) is a source."""
        if path in self._candidates:
            with self._lock:
                self._generation += 1

    def get(self, cwd: str, profile: Profile) -> ProjectDocs:
        """The instructions that apply at `cwd` (see `load_project_docs`)."""
        if self._paths is None or self._paths[0] != cwd or self._paths[1] != profile:
            self._paths = (cwd, profile, candidate_paths(cwd, profile))
            self._candidates = frozenset(self._paths[2])
        candidates = self._paths[2]
        if self._user_dir is None:
            self._user_dir = default_user_dir()
        with self._lock:
            generation = self._generation
        key = (cwd, profile, generation, self._disk_signatures(candidates))
        if key == self._key:
            return self._docs
        docs = load_project_docs(
            self._workspace, cwd, profile, user_dir=self._user_dir, budget=self._budget
        )
        with self._lock:
            # A change that raced this load leaves the key stale; the next call loads again.
            if self._generation == generation:
                self._key, self._docs = key, docs
        return docs

    def _disk_signatures(self, candidates: list[str]) -> tuple[Any, ...]:
        assert self._user_dir is not None
        user = _signature(os.path.join(self._user_dir, SHARED_FILE))
        root = getattr(self._workspace, "root", None)
        if root is None:
            return (user,)
        base = os.fspath(root)
        return (user, *(_signature(os.path.join(base, path)) for path in candidates))
