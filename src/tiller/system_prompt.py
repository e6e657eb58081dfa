"""System prompt assembly and the `<environment>` block.

Order (DESIGN §5): the profile's base prompt, the environment, project
instructions, the skill catalog, and the user's own `system_prompt` last so it
can override everything above it. Empty parts are left out.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tiller.profiles import Profile

_MAX_GITDIR_HOPS = 64


@dataclass
class Environment:
    """Facts about where the agent runs, for the `<environment>` block.

    Attributes:
        working_directory: the absolute working directory on disk, or the
            workspace-relative one for a purely in-memory workspace.
        is_git_repo: the working directory is inside a git work tree.
        git_branch: the checked-out branch; None when detached or not a repo.
        platform: operating system and release, e.g. `Linux 6.8.0`.
        date: today's date, ISO 8601.
        model: the model id.
        workspace_root: the workspace root on disk; None when in memory only.
    """

    working_directory: str
    is_git_repo: bool
    git_branch: str | None
    platform: str
    date: str
    model: str
    workspace_root: str | None = None

    @classmethod
    def detect(
        cls, root: Path | None, cwd: str, model: str, today: date | None = None
    ) -> Environment:
        """Describe the environment without spawning processes.

        Git state comes from reading `.git/HEAD` in the nearest enclosing
        repository (a `.git` file, as in worktrees and submodules, is followed).

        Args:
            root: the workspace root on disk, or None for an in-memory workspace.
            cwd: the working directory relative to the root ("" is the root).
            model: the model id.
            today: the date to report (default: today).

        Returns:
            The environment.
        """
        cwd = cwd.strip("/")
        if root is None:
            working, is_repo, branch, root_text = (cwd or "."), False, None, None
        else:
            absolute = root.absolute()
            working_path = absolute / cwd if cwd else absolute
            is_repo, branch = git_state(working_path)
            working, root_text = str(working_path), str(absolute)
        return cls(
            working_directory=working,
            is_git_repo=is_repo,
            git_branch=branch,
            platform=f"{platform.system()} {platform.release()}".strip(),
            date=(today or date.today()).isoformat(),
            model=model,
            workspace_root=root_text,
        )

    def render(self) -> str:
        """The `<environment>` block."""
        if self.workspace_root is None:
            where = "in-memory only (no directory on disk)"
        else:
            where = self.workspace_root
        if not self.is_git_repo:
            git = "no"
        elif self.git_branch is None:
            git = "yes (detached HEAD)"
        else:
            git = f"yes, branch {self.git_branch}"
        lines = [
            "<environment>",
            f"Working directory: {self.working_directory}",
            f"Workspace root: {where}",
            f"Git repository: {git}",
            f"Platform: {self.platform}",
            f"Today's date: {self.date}",
            f"Model: {self.model}",
            "</environment>",
        ]
        return "\n".join(lines)


def _git_dir(marker: Path) -> Path | None:
    """The git directory a `.git` entry stands for (a directory, or a `gitdir:` file)."""
    if marker.is_dir():
        return marker
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    return target if target.is_absolute() else marker.parent / target


def git_state(directory: Path) -> tuple[bool, str | None]:
    """Whether `directory` is in a git work tree, and its branch, read from `HEAD`.

    Args:
        directory: where to start looking; parents are searched upwards.

    Returns:
        `(is_git_repo, branch)`; branch is None for a detached HEAD.
    """
    for candidate in [directory, *directory.parents][:_MAX_GITDIR_HOPS]:
        marker = candidate / ".git"
        try:
            present = marker.exists()
        except OSError:
            present = False
        if not present:
            continue
        git_dir = _git_dir(marker)
        if git_dir is None:
            return False, None
        try:
            head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return False, None
        if head.startswith("ref:"):
            ref = head.removeprefix("ref:").strip()
            return True, ref.removeprefix("refs/heads/")
        return True, None
    return False, None


def build_system_prompt(
    *,
    profile: Profile,
    environment: Environment,
    project_docs: str,
    skill_catalog: str,
    user_prompt: str | None,
) -> str:
    """Assemble the system prompt.

    Args:
        profile: supplies the base prompt.
        environment: rendered as the `<environment>` block.
        project_docs: rendered project instructions (`ProjectDocs.text`), or "".
        skill_catalog: the `<available_skills>` block, or "".
        user_prompt: the user's own system prompt, placed last; None or "" for none.

    Returns:
        The non-empty parts in order, separated by blank lines.
    """
    parts = [profile.base_prompt().strip(), environment.render()]
    if project_docs.strip():
        parts.append(
            "<project_instructions>\n"
            "Instructions from the project's instruction files follow, from the most general "
            "to the most specific; where they disagree, the later (deeper) file wins.\n\n"
            f"{project_docs.strip()}\n"
            "</project_instructions>"
        )
    if skill_catalog.strip():
        parts.append(skill_catalog.strip())
    if user_prompt and user_prompt.strip():
        parts.append(user_prompt.strip())
    return "\n\n".join(part for part in parts if part)
