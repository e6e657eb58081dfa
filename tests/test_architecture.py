"""The layering rules of DESIGN §1, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tiller

SRC = Path(tiller.__file__).parent
UI_LIBS = {"textual", "typer", "rich", "prompt_toolkit"}
FRONT_ENDS = ("tui", "cli.py", "cli_", "repl")


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def engine_files() -> list[Path]:
    return [
        p for p in SRC.rglob("*.py") if not p.relative_to(SRC).as_posix().startswith(FRONT_ENDS)
    ]


def test_engine_imports_no_ui_library() -> None:
    """No engine module imports textual, typer, rich or prompt_toolkit."""
    offenders = {
        p.relative_to(SRC).as_posix(): sorted(imported_roots(p) & UI_LIBS) for p in engine_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_controller_and_command_table_import_no_ui_library() -> None:
    """chat.py and commands.py, shared by every front end, import no UI library."""
    shared = [SRC / "chat.py", SRC / "commands.py"]
    assert {p.name: sorted(imported_roots(p) & UI_LIBS) for p in shared} == {
        "chat.py": [],
        "commands.py": [],
    }
    assert set(shared) <= set(engine_files())


def test_litellm_imported_in_one_module() -> None:
    """Only llm.py imports litellm."""
    users = sorted(
        p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "litellm" in imported_roots(p)
    )
    assert users == ["llm.py"]


def test_public_names_resolve() -> None:
    """Every name in tiller.__all__ resolves."""
    missing = [name for name in tiller.__all__ if getattr(tiller, name, None) is None]
    assert missing == []


def test_import_is_cheap_and_quiet() -> None:
    """`import tiller` loads neither litellm nor the session engine."""
    code = (
        "import sys, tiller; "
        "print(sorted(m for m in ('litellm', 'tiller.session') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (out.stdout.strip(), out.stderr) == ("[]", "")
