"""The `skill` tool: name enum, loaded body, bundled files, on_load."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from tiller.errors import ToolError
from tiller.skills import Skill, discover_skills
from tiller.tools.base import ToolContext
from tiller.tools.skill import skill_tool


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def skills(tmp_path: Path) -> list[Skill]:
    """Two skills; `review` bundles a checklist and a script."""
    write(tmp_path / "review" / "SKILL.md", "---\nname: review\ndescription: Review.\n---\nLook.\n")
    write(tmp_path / "review" / "checklist.md", "- [ ] tests\n")
    write(tmp_path / "review" / "scripts" / "scan.py", "print('scan')\n")
    write(tmp_path / "fmt" / "SKILL.md", "---\nname: fmt\ndescription: Format.\n---\nRun it.\n")
    found, _ = discover_skills([tmp_path])
    return found


def by_name(skills: list[Skill], name: str) -> Skill:
    return next(s for s in skills if s.name == name)


def test_name_parameter_is_an_enum_of_skill_names(skills: list[Skill]) -> None:
    """The schema only admits discovered skill names."""
    tool = skill_tool(skills)
    assert tool.parameters["properties"]["name"]["enum"] == ["fmt", "review"]


def test_schema_rejects_an_unknown_skill(skills: list[Skill]) -> None:
    """A made-up skill name fails schema validation."""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "deploy"}, skill_tool(skills).parameters)


def test_loading_returns_body_directory_and_bundled_files(skills: list[Skill]) -> None:
    """The result holds the body, the skill directory and its files minus SKILL.md."""
    review = by_name(skills, "review")
    output = skill_tool(skills).run({"name": "review"}, ToolContext())
    expected = (
        '<skill name="review">\nLook.\n</skill>\n\n'
        f"Skill directory: {review.directory}\n\n"
        'Bundled files (read one with the `skill` tool: name="review", file="<path>"):\n'
        "- checklist.md\n"
        "- scripts/scan.py"
    )
    assert output == expected


def test_skill_without_files_lists_none(skills: list[Skill]) -> None:
    """A skill with only SKILL.md has no bundled-files section."""
    fmt = by_name(skills, "fmt")
    output = skill_tool(skills).run({"name": "fmt"}, ToolContext())
    assert output == f'<skill name="fmt">\nRun it.\n</skill>\n\nSkill directory: {fmt.directory}'


def test_on_load_receives_the_loaded_skill(skills: list[Skill]) -> None:
    """Loading a skill calls on_load with it."""
    loaded: list[Skill] = []
    skill_tool(skills, on_load=loaded.append).run({"name": "fmt"}, ToolContext())
    assert loaded == [by_name(skills, "fmt")]


def test_bundled_file_listing_is_capped(tmp_path: Path) -> None:
    """At most 50 files are listed, then a count of the rest."""
    write(tmp_path / "big" / "SKILL.md", "---\nname: big\ndescription: Big.\n---\nBody\n")
    for index in range(55):
        write(tmp_path / "big" / "refs" / f"{index:02d}.md", "x")
    found, _ = discover_skills([tmp_path])
    output = skill_tool(found).run({"name": "big"}, ToolContext())
    tail = output.splitlines()[-2:]
    assert tail == ["- refs/49.md", "- ... and 5 more"]


def test_file_argument_reads_a_bundled_file(skills: list[Skill]) -> None:
    """`file` returns that bundled file's text."""
    output = skill_tool(skills).run({"name": "review", "file": "checklist.md"}, ToolContext())
    assert output == "- [ ] tests\n"


def test_reading_a_file_does_not_count_as_loading(skills: list[Skill]) -> None:
    """on_load fires for the instructions, not for bundled-file reads."""
    loaded: list[Skill] = []
    tool = skill_tool(skills, on_load=loaded.append)
    tool.run({"name": "review", "file": "checklist.md"}, ToolContext())
    assert loaded == []


@pytest.mark.parametrize("file", ["../fmt/SKILL.md", "/etc/passwd", "missing.md", "."])
def test_file_outside_the_skill_or_missing_is_an_error(skills: list[Skill], file: str) -> None:
    """Only existing files inside the skill directory can be read."""
    with pytest.raises(ToolError):
        skill_tool(skills).run({"name": "review", "file": file}, ToolContext())
