"""`skill`: load a discovered skill's instructions (and its bundled files) on demand."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tiller.errors import ToolError
from tiller.skills import SKILL_FILE, Skill
from tiller.tools.base import FunctionTool, ToolContext

MAX_LISTED_FILES = 50
_SKIPPED_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv"})

DESCRIPTION = (
    "Load a skill: task-specific instructions listed in the available-skills catalog. Call it "
    "with the skill's name when the user's task matches its description, before starting the "
    "work, then follow the instructions it returns. The result also lists the files bundled "
    "with the skill; read one by calling this tool again with `file` set to its relative path."
)


def bundled_files(skill: Skill, limit: int = MAX_LISTED_FILES) -> tuple[list[str], int]:
    """The files shipped with `skill`, relative to its directory, without `SKILL.md`.

    Hidden files and tool caches are left out; symlinked directories are not followed.

    Args:
        skill: the skill.
        limit: the most paths to return.

    Returns:
        Up to `limit` sorted POSIX paths, and how many more there were.
    """
    found: list[str] = []
    for current, dirnames, filenames in os.walk(skill.directory):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS and d[0] != ".")
        base = Path(current).relative_to(skill.directory)
        for filename in filenames:
            relative = (base / filename).as_posix()
            if relative != SKILL_FILE and filename[0] != ".":
                found.append(relative)
    found.sort()
    return found[:limit], max(0, len(found) - limit)


def _render_skill(skill: Skill) -> str:
    files, more = bundled_files(skill)
    parts = [
        f'<skill name="{skill.name}">\n{skill.body}\n</skill>',
        f"Skill directory: {skill.directory}",
    ]
    if files:
        listing = "\n".join(f"- {path}" for path in files)
        if more:
            listing += f"\n- ... and {more} more"
        parts.append(
            "Bundled files (read one with the `skill` tool: "
            f'name="{skill.name}", file="<path>"):\n{listing}'
        )
    return "\n\n".join(parts)


def _read_bundled(skill: Skill, file: str) -> str:
    target = (skill.directory / file).resolve()
    directory = skill.directory.resolve()
    if not target.is_relative_to(directory) or target == directory:
        raise ToolError(f"{file!r} is not a file of skill {skill.name!r}")
    if not target.is_file():
        files, _ = bundled_files(skill)
        known = ", ".join(files) or "none"
        raise ToolError(f"Skill {skill.name!r} has no file {file!r} (bundled files: {known})")
    try:
        return target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{file!r} is a binary file") from None
    except OSError as exc:
        raise ToolError(f"Cannot read {file!r}: {exc.strerror or exc}") from None


def skill_tool(
    skills: Sequence[Skill], on_load: Callable[[Skill], None] | None = None
) -> FunctionTool:
    """The `skill` tool over `skills` (register it only when there is at least one).

    Args:
        skills: the discovered skills; their names become the `name` enum.
        on_load: called with the skill each time its instructions are loaded
            (the session emits `SKILL_LOADED` from it); not called for `file` reads.

    Returns:
        A read-only tool returning the `SKILL.md` body, the skill's directory
        and its bundled files, or one bundled file's text when `file` is given.
    """
    by_name = {skill.name: skill for skill in skills}

    def run(args: dict[str, Any], ctx: ToolContext) -> str:
        skill = by_name.get(args["name"])
        if skill is None:
            raise ToolError(f"Unknown skill {args['name']!r}; available: {', '.join(by_name)}")
        file = args.get("file")
        if file:
            return _read_bundled(skill, file)
        if on_load is not None:
            on_load(skill)
        return _render_skill(skill)

    return FunctionTool(
        name="skill",
        description=DESCRIPTION,
        parameters={
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "enum": list(by_name),
                    "description": "The skill to load, as named in the catalog.",
                },
                "file": {
                    "type": "string",
                    "description": (
                        "Optional: a bundled file to read instead, relative to the skill "
                        "directory (as listed when the skill was loaded)."
                    ),
                },
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        handler=run,
        parallel_safe=True,
    )
