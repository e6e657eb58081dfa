"""Skill discovery, validation diagnostics, precedence and the catalog."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tiller.skills import (
    Skill,
    bundled_skills_dir,
    default_skill_dirs,
    discover_skills,
    skill_catalog,
    user_skills_dir,
)

REPO = Path(__file__).resolve().parents[1]


def make_skill(parent: Path, folder: str, front: str, body: str = "Do the thing.") -> Path:
    """Write `<parent>/<folder>/SKILL.md` with the given front matter lines."""
    directory = parent / folder
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "SKILL.md"
    path.write_text(f"---\n{front}\n---\n\n{body}\n", encoding="utf-8")
    return path


def outcome(dirs: list[Path]) -> tuple[list[str], list[tuple[str, str]]]:
    """Loaded skill names, and (severity, SKILL.md folder) per diagnostic."""
    skills, diagnostics = discover_skills(dirs)
    return [s.name for s in skills], [(d.severity, d.path.parent.name) for d in diagnostics]


def test_valid_skill_loads(tmp_path: Path) -> None:
    """A well-formed SKILL.md becomes a Skill with its body and no warnings."""
    path = make_skill(tmp_path, "pdf-tools", "name: pdf-tools\ndescription: Work with PDFs.")
    skills, diagnostics = discover_skills([tmp_path])
    expected = Skill("pdf-tools", "Work with PDFs.", path, path.parent, "Do the thing.", "project")
    assert (skills, diagnostics) == ([expected], [])


@pytest.mark.parametrize(
    "name",
    ["PDF-Tools", "-pdf", "pdf-", "pdf--tools", "pdf_tools", "pdf tools", "pdf/tools"],
)
def test_invalid_name_is_skipped_with_an_error(tmp_path: Path, name: str) -> None:
    """A name outside lowercase letters, digits and single hyphens skips the skill."""
    make_skill(tmp_path, "pdf-tools", f"name: '{name}'\ndescription: Work with PDFs.")
    assert outcome([tmp_path]) == ([], [("error", "pdf-tools")])


def test_name_not_matching_folder_loads_with_a_warning(tmp_path: Path) -> None:
    """A name that differs from its folder still loads, with a warning."""
    make_skill(tmp_path, "pdf", "name: pdf-tools\ndescription: Work with PDFs.")
    assert outcome([tmp_path]) == (["pdf-tools"], [("warning", "pdf")])


def test_mismatch_warning_is_recorded_on_the_skill(tmp_path: Path) -> None:
    """The skill carries its own warnings."""
    make_skill(tmp_path, "pdf", "name: pdf-tools\ndescription: Work with PDFs.")
    skills, _ = discover_skills([tmp_path])
    assert skills[0].warnings == ("Name 'pdf-tools' does not match its folder 'pdf'",)


def test_too_long_name_loads_with_a_warning(tmp_path: Path) -> None:
    """A 65-character name loads, with a warning."""
    name = "a" * 65
    make_skill(tmp_path, name, f"name: {name}\ndescription: Long.")
    assert outcome([tmp_path]) == ([name], [("warning", name)])


@pytest.mark.parametrize(
    ("case", "front"),
    [
        ("missing name", "description: Work with PDFs."),
        ("numeric name", "name: 42\ndescription: Work with PDFs."),
        ("missing description", "name: pdf-tools"),
        ("empty description", "name: pdf-tools\ndescription: '  '"),
        ("list description", "name: pdf-tools\ndescription: [a, b]"),
        ("bad yaml", "name: pdf-tools\ndescription: ok\n  bad: [indent"),
        ("not a mapping", "- name\n- description"),
        ("scalar front matter", "just text"),
        ("empty front matter", ""),
    ],
)
def test_broken_front_matter_is_skipped_with_an_error(
    tmp_path: Path, case: str, front: str
) -> None:
    """Front matter that cannot describe a skill skips it with one error."""
    make_skill(tmp_path, "pdf-tools", front)
    assert outcome([tmp_path]) == ([], [("error", "pdf-tools")])


def test_yaml_error_message_names_the_problem(tmp_path: Path) -> None:
    """A YAML error is reported as such, with its line in the file."""
    make_skill(tmp_path, "pdf-tools", "name: pdf-tools\ndescription: [unclosed")
    _, diagnostics = discover_skills([tmp_path])
    assert diagnostics[0].message.startswith("Front matter is not valid YAML")


@pytest.mark.parametrize(
    ("case", "content"),
    [
        ("no front matter", b"# Just markdown\n"),
        ("unterminated", b"---\nname: pdf-tools\ndescription: x\n"),
        ("not utf-8", b"---\nname: pdf-tools\ndescription: caf\xe9\n---\n"),
        ("empty file", b""),
    ],
)
def test_unusable_files_are_skipped_with_an_error(
    tmp_path: Path, case: str, content: bytes
) -> None:
    """Files without usable front matter never crash discovery."""
    (tmp_path / "pdf-tools").mkdir()
    (tmp_path / "pdf-tools" / "SKILL.md").write_bytes(content)
    assert outcome([tmp_path]) == ([], [("error", "pdf-tools")])


def test_unquoted_colon_in_description_loads_with_a_warning(tmp_path: Path) -> None:
    """`description: Use when: ...` (invalid YAML other agents accept) loads, with a warning."""
    make_skill(tmp_path, "pdf-tools", "name: pdf-tools\ndescription: Use when: PDFs appear")
    skills, diagnostics = discover_skills([tmp_path])
    result = ([s.description for s in skills], [d.severity for d in diagnostics])
    assert result == (["Use when: PDFs appear"], ["warning"])


def test_too_long_description_loads_with_a_warning(tmp_path: Path) -> None:
    """A description over 1024 characters loads, with a warning."""
    make_skill(tmp_path, "pdf-tools", f"name: pdf-tools\ndescription: {'d' * 1100}")
    assert outcome([tmp_path]) == (["pdf-tools"], [("warning", "pdf-tools")])


def test_folded_description_is_one_line(tmp_path: Path) -> None:
    """A multi-line YAML description is joined into one line."""
    make_skill(tmp_path, "pdf-tools", "name: pdf-tools\ndescription: >\n  Work with\n  PDFs.")
    skills, _ = discover_skills([tmp_path])
    assert skills[0].description == "Work with PDFs."


def test_earlier_directory_wins_a_name_clash(tmp_path: Path) -> None:
    """The first directory's skill wins and the shadowed one gets a warning."""
    project, user = tmp_path / "project", tmp_path / "user"
    winner = make_skill(project, "fmt", "name: fmt\ndescription: Project formatting.")
    loser = make_skill(user, "fmt", "name: fmt\ndescription: My formatting.")
    skills, diagnostics = discover_skills([project, user])
    shadowed = [(d.path, d.severity, d.message) for d in diagnostics]
    expected = [(loser, "warning", f"Skill 'fmt' is shadowed by {winner}")]
    assert ([s.path for s in skills], shadowed) == ([winner], expected)


def test_directory_given_twice_is_scanned_once(tmp_path: Path) -> None:
    """Repeating a directory neither duplicates nor shadows its skills."""
    make_skill(tmp_path, "fmt", "name: fmt\ndescription: Formatting.")
    assert outcome([tmp_path, tmp_path / "." / "fmt" / ".."]) == (["fmt"], [])


def test_missing_directories_are_ignored(tmp_path: Path) -> None:
    """A skills directory that does not exist yields nothing and no diagnostics."""
    assert discover_skills([tmp_path / "absent"]) == ([], [])


def test_folders_without_skill_md_are_ignored(tmp_path: Path) -> None:
    """Only folders holding a SKILL.md are skills."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("hi", encoding="utf-8")
    make_skill(tmp_path, "fmt", "name: fmt\ndescription: Formatting.")
    assert outcome([tmp_path]) == (["fmt"], [])


def test_catalog_lists_name_description_and_location(tmp_path: Path) -> None:
    """The catalog names each skill, describes it, locates its SKILL.md and says how to load."""
    path = make_skill(tmp_path, "fmt", "name: fmt\ndescription: Format <code> & docs.")
    skills, _ = discover_skills([tmp_path])
    expected = "\n".join(
        [
            "<available_skills>",
            "When the task matches a skill's description, call the `skill` tool with its name "
            "to load its full instructions before you start.",
            "<skill>",
            "<name>fmt</name>",
            "<description>Format &lt;code&gt; &amp; docs.</description>",
            f"<location>{path}</location>",
            "</skill>",
            "</available_skills>",
        ]
    )
    assert skill_catalog(skills) == expected


def test_catalog_is_empty_without_skills() -> None:
    """No skills, no catalog."""
    assert skill_catalog([]) == ""


def test_catalog_caps_long_descriptions(tmp_path: Path) -> None:
    """The catalog shows at most 1024 characters of a description."""
    make_skill(tmp_path, "fmt", f"name: fmt\ndescription: {'d' * 1100}")
    skills, _ = discover_skills([tmp_path])
    assert f"<description>{'d' * 1024}</description>" in skill_catalog(skills).splitlines()


def test_default_dirs_put_project_before_user_before_bundled(tmp_path: Path) -> None:
    """Project directories come first, then the user's, then Tiller's own."""
    expected = [
        tmp_path / "skills",
        tmp_path / ".agents" / "skills",
        tmp_path / ".tiller" / "skills",
        user_skills_dir(),
        bundled_skills_dir(),
    ]
    assert default_skill_dirs(tmp_path) == expected


def test_default_dirs_without_root_skip_project_dirs() -> None:
    """An in-memory workspace has no project skill directories."""
    assert default_skill_dirs(None) == [user_skills_dir(), bundled_skills_dir()]


def test_bundled_skills_dir_is_the_repository_skills_folder() -> None:
    """In a source checkout the bundled skills are the repository's skills/."""
    assert bundled_skills_dir() == REPO / "skills"


def test_bundled_skills_are_valid_and_marked_bundled() -> None:
    """Every skill Tiller ships loads cleanly and is marked bundled."""
    directory = bundled_skills_dir()
    assert directory is not None
    skills, diagnostics = discover_skills([directory])
    found = sorted((s.name, s.source) for s in skills)
    expected = [("review-diff-before-flush", "bundled"), ("write-focused-tests", "bundled")]
    assert (found, diagnostics) == (expected, [])


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CONFIG_HOME is a Linux convention")
def test_user_skills_are_marked_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skills under the user's config directory have source 'user'."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    make_skill(tmp_path / "tiller" / "skills", "fmt", "name: fmt\ndescription: Formatting.")
    skills, _ = discover_skills([user_skills_dir()])
    assert [s.source for s in skills] == ["user"]
