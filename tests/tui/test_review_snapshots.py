"""Snapshots of review mode, the light theme's diff colours and a rename, each looked at first.

Update one (`pytest --snapshot-update`) only after looking at the new picture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import make_app, settle, started, until

from tiller.testing.scripted import call
from tiller.tui.screens.review import ReviewScreen
from tiller.tui.workspace_tree import WorkspaceTree

# The fixed project path is shared with the other snapshots: one xdist worker for them all.
pytestmark = pytest.mark.xdist_group("snapshots")

LONG_LINE = "    return sum(value * weight for value, weight in zip(values, weights, strict=True))"
WEIGHTED = f'def weighted(values, weights):\n    """The weighted sum of values."""\n{LONG_LINE}\n'
REWRITE_CALC = call(
    "write_file",
    file_path="src/calc.py",
    content=(
        "def add(a: int, b: int) -> int:\n    return a + b\n\n\n"
        "def sub(a: int, b: int) -> int:\n    return a - b\n\n\n" + WEIGHTED
    ),
)
NEW_TEST = call(
    "write_file",
    file_path="tests/test_weighted.py",
    content="from src.calc import weighted\n\n\ndef test_weighted():\n"
    "    assert weighted([1, 2], [3, 4]) == 11\n",
)
EDIT_CALC = call(
    "edit_file",
    file_path="src/calc.py",
    old_string="def sub(a, b):\n    return a - b\n",
    new_string='def sub(a: int, b: int) -> int:\n    """a minus b."""\n    return a - b\n',
)
MOVE_TEST = call(
    "write_file",
    file_path="tests/unit/test_calc.py",
    content="from src.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
)


async def _send(pilot, text: str) -> None:
    await pilot.press(*text, "enter")
    await settle(pilot)


def test_review_mode_maximised(snap_compare, frozen_project: Path) -> None:
    """F4 at 160x45: the file list (a disk edit marked), src/calc.py side by side, lines wrapped."""
    app = make_app(frozen_project, [REWRITE_CALC, NEW_TEST, "Added weighted()."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await _send(pilot, "add weighted")
        workspace = app.main.session.workspace
        workspace.write("README.md", "# Demo\n\nA tiny project, reviewed.\n")
        (frozen_project / "README.md").write_text("# Demo\n\nEdited by hand.\n")
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("p", "p", "n")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=(160, 45))


def test_light_theme_diff(snap_compare, frozen_project: Path) -> None:
    """textual-light: the sidebar diff's tints and code colours stay readable."""
    app = make_app(frozen_project, [EDIT_CALC, "Typed sub."], theme="textual-light")

    async def run_before(pilot) -> None:
        await started(pilot)
        await _send(pilot, "type sub")
        tree = app.main.query_one(WorkspaceTree)
        tree.select_path("src/calc.py")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=(120, 36))


def test_rename_row(snap_compare, frozen_project: Path) -> None:
    """A moved file: R rows in the tree (new ← old with its similarity, old → new), one diff."""
    app = make_app(frozen_project, [MOVE_TEST, "Moved the test."])

    async def run_before(pilot) -> None:
        await started(pilot)
        await _send(pilot, "move the test")
        app.main.session.workspace.delete("tests/test_calc.py")
        app.main.refresh_sidebar()
        await pilot.pause()
        app.main.query_one(WorkspaceTree).select_path("tests/unit/test_calc.py")
        await pilot.pause()

    assert snap_compare(app, run_before=run_before, terminal_size=(120, 36))
