"""Project instructions: discovery order, provider files, user file, byte budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiller.errors import FileNotFoundInWorkspace
from tiller.profiles import PROFILES
from tiller.project_docs import (
    ProjectDocs,
    candidate_paths,
    docs_fingerprint,
    load_project_docs,
    truncation_marker,
)
from tiller.workspace import Workspace

ANTHROPIC = PROFILES["anthropic"]
MARKER = "[Project instructions truncated at 32KB]"


class DictDocs:
    """A minimal in-memory source with the read/exists contract of the workspace."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def exists(self, path: str) -> bool:
        return path in self.files

    def read(self, path: str) -> str:
        if path not in self.files:
            raise FileNotFoundInWorkspace(path)
        return self.files[path]


def block(source: str, body: str) -> str:
    return f'<instructions source="{source}">\n{body}\n</instructions>'


@pytest.fixture
def no_user(tmp_path: Path) -> Path:
    return tmp_path / "no-user-config"


def test_directories_load_from_root_down_to_cwd(no_user: Path) -> None:
    """AGENTS.md files load root first, then each directory down to cwd, no siblings."""
    files = {
        "AGENTS.md": "root",
        "a/AGENTS.md": "a",
        "a/b/AGENTS.md": "ab",
        "a/b/c/AGENTS.md": "below cwd",
        "other/AGENTS.md": "sibling",
    }
    docs = load_project_docs(DictDocs(files), "a/b", ANTHROPIC, user_dir=no_user)
    assert docs.sources == ["AGENTS.md", "a/AGENTS.md", "a/b/AGENTS.md"]


def test_agents_md_precedes_provider_file_in_each_directory(no_user: Path) -> None:
    """Within a directory AGENTS.md comes before the profile's own file."""
    files = {"CLAUDE.md": "c", "AGENTS.md": "a", "sub/CLAUDE.md": "sc", "sub/AGENTS.md": "sa"}
    docs = load_project_docs(DictDocs(files), "sub", ANTHROPIC, user_dir=no_user)
    assert docs.sources == ["AGENTS.md", "CLAUDE.md", "sub/AGENTS.md", "sub/CLAUDE.md"]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("anthropic", ["AGENTS.md", "CLAUDE.md"]),
        ("openai", ["AGENTS.md", ".codex/instructions.md"]),
        ("gemini", ["AGENTS.md", "GEMINI.md"]),
    ],
)
def test_only_the_active_profiles_file_loads(
    no_user: Path, profile: str, expected: list[str]
) -> None:
    """Another family's instructions file is never loaded."""
    files = {
        "AGENTS.md": "shared",
        "CLAUDE.md": "claude",
        "GEMINI.md": "gemini",
        ".codex/instructions.md": "codex",
    }
    docs = load_project_docs(DictDocs(files), "", PROFILES[profile], user_dir=no_user)
    assert docs.sources == expected


def test_user_level_file_comes_first(tmp_path: Path) -> None:
    """The user's AGENTS.md precedes every project file."""
    user_dir = tmp_path / "config"
    user_dir.mkdir()
    (user_dir / "AGENTS.md").write_text("mine", encoding="utf-8")
    docs = load_project_docs(DictDocs({"AGENTS.md": "root"}), "", ANTHROPIC, user_dir=user_dir)
    expected = block(str(user_dir / "AGENTS.md"), "mine") + "\n\n" + block("AGENTS.md", "root")
    assert docs.text == expected


def test_each_file_is_wrapped_with_its_source(no_user: Path) -> None:
    """Each file is rendered inside an instructions tag naming its path."""
    docs = load_project_docs(
        DictDocs({"pkg/AGENTS.md": "Use tabs.\n"}), "pkg", ANTHROPIC, user_dir=no_user
    )
    assert docs == ProjectDocs(block("pkg/AGENTS.md", "Use tabs."), ["pkg/AGENTS.md"], False)


def test_no_instruction_files_gives_empty_docs(no_user: Path) -> None:
    """Without any instructions file the result is empty."""
    docs = load_project_docs(DictDocs({"README.md": "hi"}), "", ANTHROPIC, user_dir=no_user)
    assert docs == ProjectDocs("", [], False)


def test_blank_files_are_skipped(no_user: Path) -> None:
    """A whitespace-only instructions file contributes nothing."""
    files = {"AGENTS.md": "  \n\n", "CLAUDE.md": "real"}
    docs = load_project_docs(DictDocs(files), "", ANTHROPIC, user_dir=no_user)
    assert docs.sources == ["CLAUDE.md"]


def test_large_file_is_cut_at_exactly_the_budget(no_user: Path) -> None:
    """A 40 KB AGENTS.md keeps its first 32,768 bytes, then the marker."""
    docs = load_project_docs(DictDocs({"AGENTS.md": "x" * 40_000}), "", ANTHROPIC, user_dir=no_user)
    assert docs == ProjectDocs(
        block("AGENTS.md", "x" * 32_768 + "\n" + MARKER), ["AGENTS.md"], True
    )


def test_cut_never_splits_a_multibyte_character(no_user: Path) -> None:
    """A cut inside a 3-byte character keeps only whole characters."""
    docs = load_project_docs(DictDocs({"AGENTS.md": "€" * 14_000}), "", ANTHROPIC, user_dir=no_user)
    assert docs.text == block("AGENTS.md", "€" * 10_922 + "\n" + MARKER)


def test_budget_is_shared_and_later_files_are_dropped(tmp_path: Path) -> None:
    """The user file spends budget first; the file crossing it is cut, later ones left out."""
    user_dir = tmp_path / "config"
    user_dir.mkdir()
    (user_dir / "AGENTS.md").write_text("u" * 30_000, encoding="utf-8")
    files = {"AGENTS.md": "r" * 5_000, "CLAUDE.md": "never"}
    docs = load_project_docs(DictDocs(files), "", ANTHROPIC, user_dir=user_dir)
    expected = block(str(user_dir / "AGENTS.md"), "u" * 30_000) + "\n\n"
    expected += block("AGENTS.md", "r" * 2_768 + "\n" + MARKER)
    assert (docs.text, docs.sources[1:], docs.truncated) == (expected, ["AGENTS.md"], True)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(32_768, MARKER), (65_536, "[Project instructions truncated at 64KB]")],
)
def test_marker_names_the_budget(budget: int, expected: str) -> None:
    """The marker states the budget in KB."""
    assert truncation_marker(budget) == expected


@pytest.mark.parametrize(
    ("cwd", "expected"),
    [
        ("", ["AGENTS.md", "GEMINI.md"]),
        ("a", ["AGENTS.md", "GEMINI.md", "a/AGENTS.md", "a/GEMINI.md"]),
        ("./a/", ["AGENTS.md", "GEMINI.md", "a/AGENTS.md", "a/GEMINI.md"]),
    ],
)
def test_candidate_paths(cwd: str, expected: list[str]) -> None:
    """Candidates run root to cwd, AGENTS.md then the profile file, for any cwd spelling."""
    assert candidate_paths(cwd, PROFILES["gemini"]) == expected


def test_fingerprint_changes_when_instructions_change(no_user: Path) -> None:
    """Editing an instructions file changes the fingerprint."""
    source = DictDocs({"AGENTS.md": "one"})
    before = docs_fingerprint(source, "", ANTHROPIC, user_dir=no_user)
    source.files["AGENTS.md"] = "two"
    assert docs_fingerprint(source, "", ANTHROPIC, user_dir=no_user) != before


def test_fingerprint_ignores_unrelated_files(no_user: Path) -> None:
    """Changing a file that is not an instructions file keeps the fingerprint."""
    source = DictDocs({"AGENTS.md": "one", "main.py": "a"})
    before = docs_fingerprint(source, "", ANTHROPIC, user_dir=no_user)
    source.files["main.py"] = "b"
    assert docs_fingerprint(source, "", ANTHROPIC, user_dir=no_user) == before


def test_seeded_workspace_files_count(no_user: Path) -> None:
    """Instructions seeded into an in-memory Workspace are loaded."""
    workspace = Workspace(files={"AGENTS.md": "seeded", "pkg/AGENTS.md": "pkg"})
    docs = load_project_docs(workspace, "pkg", ANTHROPIC, user_dir=no_user)
    assert docs.text == block("AGENTS.md", "seeded") + "\n\n" + block("pkg/AGENTS.md", "pkg")


def test_unflushed_edit_wins_over_disk(tmp_path: Path, no_user: Path) -> None:
    """An edited but unflushed instructions file is read as edited."""
    (tmp_path / "AGENTS.md").write_text("on disk", encoding="utf-8")
    workspace = Workspace(root=tmp_path)
    workspace.write("AGENTS.md", "in memory")
    docs = load_project_docs(workspace, "", ANTHROPIC, user_dir=no_user)
    assert docs.text == block("AGENTS.md", "in memory")


def test_deleted_file_is_not_loaded(tmp_path: Path, no_user: Path) -> None:
    """A file deleted in the workspace no longer contributes, though it is on disk."""
    (tmp_path / "CLAUDE.md").write_text("old", encoding="utf-8")
    (tmp_path / "AGENTS.md").write_text("kept", encoding="utf-8")
    workspace = Workspace(root=tmp_path)
    workspace.delete("CLAUDE.md")
    docs = load_project_docs(workspace, "", ANTHROPIC, user_dir=no_user)
    assert docs.sources == ["AGENTS.md"]


def test_unreadable_candidates_are_skipped(tmp_path: Path, no_user: Path) -> None:
    """A binary file or a directory where an instructions file would be is skipped."""
    (tmp_path / "AGENTS.md").write_bytes(b"\x00\x01binary\xff")
    (tmp_path / "CLAUDE.md").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "AGENTS.md").write_text("sub", encoding="utf-8")
    docs = load_project_docs(Workspace(root=tmp_path), "sub", ANTHROPIC, user_dir=no_user)
    assert docs.sources == ["sub/AGENTS.md"]
