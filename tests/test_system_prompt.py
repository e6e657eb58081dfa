"""System prompt assembly and environment detection."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import astuple
from datetime import date
from pathlib import Path

import pytest

from tiller.profiles import PROFILES
from tiller.system_prompt import Environment, build_system_prompt, git_state

ANTHROPIC = PROFILES["anthropic"]
ENV = Environment("/repo/src", True, "main", "Linux 6.8", "2026-11-22", "openai/gpt-5", "/repo")


def test_environment_block() -> None:
    """The environment renders as one tagged block of facts."""
    expected = "\n".join(
        [
            "<environment>",
            "Working directory: /repo/src",
            "Workspace root: /repo",
            "Git repository: yes, branch main",
            "Platform: Linux 6.8",
            "Today's date: 2026-11-22",
            "Model: openai/gpt-5",
            "</environment>",
        ]
    )
    assert ENV.render() == expected


@pytest.mark.parametrize(
    ("is_repo", "branch", "expected"),
    [(False, None, "Git repository: no"), (True, None, "Git repository: yes (detached HEAD)")],
)
def test_environment_git_line(is_repo: bool, branch: str | None, expected: str) -> None:
    """Non-repositories and detached heads are stated plainly."""
    env = Environment("/w", is_repo, branch, "Linux", "2026-11-22", "m", "/w")
    assert env.render().splitlines()[3] == expected


def test_prompt_parts_come_in_order() -> None:
    """Base prompt, environment, project docs, skill catalog, then the user's prompt."""
    prompt = build_system_prompt(
        profile=ANTHROPIC,
        environment=ENV,
        project_docs='<instructions source="AGENTS.md">\nUse tabs.\n</instructions>',
        skill_catalog="<available_skills>\n</available_skills>",
        user_prompt="Answer in French.",
    )
    expected = [
        ANTHROPIC.base_prompt().strip(),
        ENV.render(),
        "<project_instructions>\n"
        "Instructions from the project's instruction files follow, from the most general to "
        "the most specific; where they disagree, the later (deeper) file wins.\n\n"
        '<instructions source="AGENTS.md">\nUse tabs.\n</instructions>\n'
        "</project_instructions>",
        "<available_skills>\n</available_skills>",
        "Answer in French.",
    ]
    assert prompt == "\n\n".join(expected)


@pytest.mark.parametrize("user_prompt", [None, "", "  \n"])
def test_empty_parts_are_omitted(user_prompt: str | None) -> None:
    """Without docs, skills or a user prompt only the base and environment remain."""
    prompt = build_system_prompt(
        profile=ANTHROPIC,
        environment=ENV,
        project_docs="",
        skill_catalog="",
        user_prompt=user_prompt,
    )
    assert prompt == ANTHROPIC.base_prompt().strip() + "\n\n" + ENV.render()


def test_profile_picks_the_base_prompt() -> None:
    """The openai profile's prompt starts the openai system prompt."""
    prompt = build_system_prompt(
        profile=PROFILES["openai"],
        environment=ENV,
        project_docs="",
        skill_catalog="",
        user_prompt=None,
    )
    assert prompt.startswith(PROFILES["openai"].base_prompt().strip())


def make_head(git_dir: Path, head: str) -> None:
    git_dir.mkdir(parents=True)
    (git_dir / "HEAD").write_text(head + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("ref: refs/heads/main", (True, "main")),
        ("ref: refs/heads/feature/login", (True, "feature/login")),
        ("3f2a9c1d5e7b8a6f4c3d2e1f0a9b8c7d6e5f4a3b", (True, None)),
    ],
)
def test_git_state_reads_head(tmp_path: Path, head: str, expected: tuple[bool, str | None]) -> None:
    """The branch comes from .git/HEAD; a bare commit id is a detached HEAD."""
    make_head(tmp_path / ".git", head)
    assert git_state(tmp_path) == expected


def test_git_state_walks_up_from_a_subdirectory(tmp_path: Path) -> None:
    """A working directory below the repository root is still in the repository."""
    make_head(tmp_path / ".git", "ref: refs/heads/dev")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    assert git_state(tmp_path / "src" / "pkg") == (True, "dev")


def test_git_state_follows_a_gitdir_file(tmp_path: Path) -> None:
    """A worktree's `.git` file points at the git directory holding HEAD."""
    make_head(tmp_path / "main" / ".git" / "worktrees" / "wt", "ref: refs/heads/topic")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text("gitdir: ../main/.git/worktrees/wt\n", encoding="utf-8")
    assert git_state(tmp_path / "wt") == (True, "topic")


def test_git_state_outside_a_repository(tmp_path: Path) -> None:
    """A plain directory is not a repository."""
    assert git_state(tmp_path) == (False, None)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_detect_in_a_real_git_repository(tmp_path: Path) -> None:
    """Detection agrees with a repository made by `git init`."""
    subprocess.run(
        ["git", "init", "-q", "-b", "trunk", str(tmp_path)], check=True, capture_output=True
    )
    (tmp_path / "src").mkdir()
    env = Environment.detect(tmp_path, "src", "openai/gpt-5", today=date(2026, 11, 22))
    expected = (str(tmp_path / "src"), True, "trunk", "2026-11-22", "openai/gpt-5", str(tmp_path))
    assert astuple(env)[:3] + astuple(env)[4:] == expected


def test_detect_without_a_root(tmp_path: Path) -> None:
    """An in-memory workspace reports its relative cwd and no repository."""
    env = Environment.detect(None, "src/", "m", today=date(2026, 11, 22))
    assert astuple(env)[:3] + astuple(env)[4:] == ("src", False, None, "2026-11-22", "m", None)
