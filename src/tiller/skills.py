"""Agent Skills: discover `*/SKILL.md`, validate front matter, build the prompt catalog.

Follows the Agent Skills format (agentskills.io): a skill is a folder holding a
`SKILL.md` whose YAML front matter has `name` and `description`, plus any
bundled files. Discovery is lenient, as the spec's client guide recommends, so
skills written for other agents still load; every problem becomes a
`SkillDiagnostic`, never an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from platformdirs import user_config_dir

MAX_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 1024
SKILL_FILE = "SKILL.md"

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A top-level `key: value` line whose plain value is not quoted, a flow collection or a block.
_PLAIN_ENTRY = re.compile(r"(?P<key>[A-Za-z_][\w-]*):[ \t]+(?P<value>[^'\"\[{|>&*!#\s].*)")
# Bounded so a huge unrelated directory handed in as a skills dir cannot stall startup.
_MAX_SKILLS_PER_DIR = 500

SkillSource = Literal["project", "user", "bundled"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Skill:
    """A loaded skill.

    Attributes:
        name: the skill's name from its front matter.
        description: what it does and when to use it.
        path: the `SKILL.md` file.
        directory: the skill's folder (bundled files live here).
        body: the Markdown after the front matter.
        source: `project`, `user` or `bundled`.
        warnings: problems that did not stop it loading.
    """

    name: str
    description: str
    path: Path
    directory: Path
    body: str
    source: SkillSource
    warnings: tuple[str, ...] = ()


@dataclass
class SkillDiagnostic:
    """A problem found while discovering skills.

    Attributes:
        path: the `SKILL.md` concerned.
        message: what is wrong, for the user.
        severity: `error` (the skill was skipped) or `warning` (it loaded).
    """

    path: Path
    message: str
    severity: Severity


class _Invalid(Exception):
    """A SKILL.md that cannot be loaded; the message says why."""


def bundled_skills_dir() -> Path | None:
    """The skills shipped with Tiller, or None when they cannot be found.

    Installed packages carry them as `tiller/bundled_skills/` (package data,
    populated through a symlink to the repository's top-level `skills/`). A
    source checkout whose symlink did not survive (e.g. Windows without
    symlink support) falls back to `<repo>/skills` next to `src/`.
    """
    try:
        packaged = resources.files("tiller") / "bundled_skills"
        if isinstance(packaged, Path) and packaged.is_dir():
            return packaged.resolve()
    except (ModuleNotFoundError, OSError):
        pass
    checkout = Path(__file__).resolve().parents[2] / "skills"
    return checkout if checkout.is_dir() else None


def user_skills_dir() -> Path:
    """The user's own skills (`~/.config/tiller/skills` on Linux)."""
    return Path(user_config_dir("tiller")) / "skills"


def default_skill_dirs(root: Path | None) -> list[Path]:
    """Where skills are looked for, highest precedence first.

    Args:
        root: the workspace root on disk, or None for a purely in-memory workspace.

    Returns:
        `<root>/skills`, `<root>/.agents/skills`, `<root>/.tiller/skills` (when
        there is a root), the user's skills directory and the bundled skills.
    """
    dirs: list[Path] = []
    if root is not None:
        dirs += [root / "skills", root / ".agents" / "skills", root / ".tiller" / "skills"]
    dirs.append(user_skills_dir())
    bundled = bundled_skills_dir()
    if bundled is not None:
        dirs.append(bundled)
    return dirs


def discover_skills(dirs: Sequence[Path]) -> tuple[list[Skill], list[SkillDiagnostic]]:
    """Load every `<dir>/*/SKILL.md`, earlier dirs winning name clashes.

    Missing directories are skipped silently; a directory given twice is
    scanned once. Diagnostics policy (lenient, after the agentskills.io
    client guide):

    - error, skill skipped: unreadable or non-UTF-8 file; no front matter;
      YAML that does not parse or is not a mapping; `name` missing, not a
      string, or not lowercase letters/digits/single hyphens (the name is the
      identifier the model passes to the `skill` tool); `description` missing,
      not a string or blank (the model could never know when to use it).
    - warning, skill loaded: `name` differs from its folder; `name` longer
      than 64 characters; `description` longer than 1024 characters (the
      catalog shows the first 1024); front matter that only parses once a
      `key: value: with colons` line is quoted (a common slip other agents
      tolerate); a later skill shadowed by an earlier one of the same name
      (reported on the shadowed file).

    Args:
        dirs: skill directories, highest precedence first (project, user, bundled).

    Returns:
        The loaded skills in discovery order, and every diagnostic.
    """
    skills: dict[str, Skill] = {}
    diagnostics: list[SkillDiagnostic] = []
    seen: set[Path] = set()
    for directory in dirs:
        key = _resolved(directory)
        if key in seen or not _is_dir(directory):
            continue
        seen.add(key)
        source = _source_of(key)
        for path in _skill_files(directory):
            try:
                skill = _load(path, source)
            except _Invalid as exc:
                diagnostics.append(SkillDiagnostic(path, str(exc), "error"))
                continue
            diagnostics += [SkillDiagnostic(path, w, "warning") for w in skill.warnings]
            winner = skills.get(skill.name)
            if winner is not None:
                message = f"Skill {skill.name!r} is shadowed by {winner.path}"
                diagnostics.append(SkillDiagnostic(path, message, "warning"))
                continue
            skills[skill.name] = skill
    return list(skills.values()), diagnostics


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _source_of(directory: Path) -> SkillSource:
    bundled = bundled_skills_dir()
    if bundled is not None and directory == _resolved(bundled):
        return "bundled"
    if directory.is_relative_to(_resolved(Path(user_config_dir("tiller")))):
        return "user"
    return "project"


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _skill_files(directory: Path) -> list[Path]:
    try:
        children = sorted(directory.iterdir())
    except OSError:
        return []
    files = [child / SKILL_FILE for child in children if _is_file(child / SKILL_FILE)]
    return files[:_MAX_SKILLS_PER_DIR]


def _load(path: Path, source: SkillSource) -> Skill:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _Invalid("SKILL.md is not valid UTF-8") from None
    except OSError as exc:
        raise _Invalid(f"Cannot read SKILL.md: {exc.strerror or exc}") from None
    warnings: list[str] = []
    meta, body = _split_front_matter(text, warnings)
    name = _check_name(meta.get("name"), path.parent.name, warnings)
    description = _check_description(meta.get("description"), warnings)
    return Skill(name, description, path, path.parent, body, source, tuple(warnings))


def _split_front_matter(text: str, warnings: list[str]) -> tuple[dict[str, Any], str]:
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise _Invalid("Missing YAML front matter (the file must start with a '---' line)")
    end = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---"), None)
    if end is None:
        raise _Invalid("Unterminated YAML front matter (no closing '---' line)")
    source = "".join(lines[1:end])
    try:
        meta = yaml.safe_load(source)
    except (yaml.YAMLError, RecursionError) as exc:
        meta = _load_quoting_colons(source, exc)
        warnings.append("Front matter is not strict YAML (a value with ': ' needs quotes)")
    if not isinstance(meta, dict):
        raise _Invalid("Front matter must be a YAML mapping with 'name' and 'description'")
    return meta, "".join(lines[end + 1 :]).strip()


def _load_quoting_colons(source: str, error: Exception) -> object:
    """Parse again with `key: value: more` values quoted, as other agents' parsers accept them."""
    fixed = [_quote_plain_value(line) for line in source.splitlines()]
    try:
        return yaml.safe_load("\n".join(fixed))
    except (yaml.YAMLError, RecursionError):
        problem = getattr(error, "problem", None) or "invalid YAML"
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise _Invalid(f"Front matter is not valid YAML: {problem}{where}") from None


def _quote_plain_value(line: str) -> str:
    match = _PLAIN_ENTRY.fullmatch(line)
    if match is None or ": " not in match["value"]:
        return line
    return f"{match['key']}: {json.dumps(match['value'].strip())}"


def _check_name(value: object, folder: str, warnings: list[str]) -> str:
    if value is None:
        raise _Invalid("Front matter has no 'name'")
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("'name' must be a non-empty string")
    name = value.strip()
    if not _NAME.fullmatch(name):
        raise _Invalid(
            f"Invalid name {name!r}: use lowercase letters, digits and single hyphens, "
            "not starting or ending with a hyphen"
        )
    if len(name) > MAX_NAME_LENGTH:
        warnings.append(f"Name {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if name != folder:
        warnings.append(f"Name {name!r} does not match its folder {folder!r}")
    return name


def _check_description(value: object, warnings: list[str]) -> str:
    if value is None:
        raise _Invalid("Front matter has no 'description'")
    if not isinstance(value, str) or not value.strip():
        raise _Invalid("'description' must be a non-empty string")
    description = " ".join(value.split())
    if len(description) > MAX_DESCRIPTION_LENGTH:
        warnings.append(
            f"Description is {len(description)} characters; the catalog shows the first "
            f"{MAX_DESCRIPTION_LENGTH}"
        )
    return description


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def skill_catalog(skills: Sequence[Skill]) -> str:
    """The `<available_skills>` block for the system prompt ("" when there are none).

    Args:
        skills: the discovered skills.

    Returns:
        One line on how to load a skill, then each skill's name, description
        and `SKILL.md` location.
    """
    if not skills:
        return ""
    lines = [
        "<available_skills>",
        "When the task matches a skill's description, call the `skill` tool with its name "
        "to load its full instructions before you start.",
    ]
    for skill in skills:
        description = skill.description[:MAX_DESCRIPTION_LENGTH]
        lines += [
            "<skill>",
            f"<name>{_escape(skill.name)}</name>",
            f"<description>{_escape(description)}</description>",
            f"<location>{_escape(str(skill.path))}</location>",
            "</skill>",
        ]
    lines.append("</available_skills>")
    return "\n".join(lines)
