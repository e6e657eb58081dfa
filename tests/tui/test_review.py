"""Review mode (F4) and the resizable sidebar, driven with Pilot on a scripted model."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from rich.console import Console
from tui_helpers import make_app, reached, settle, started, until

from tiller.testing.scripted import Step, call
from tiller.tui.app import TillerApp
from tiller.tui.diff_view import DiffView
from tiller.tui.prompt import Prompt
from tiller.tui.screens.flush import FlushScreen
from tiller.tui.screens.review import ReviewScreen
from tiller.tui.screens.review_diff import ReviewDiff
from tiller.tui.screens.review_files import FileList
from tiller.tui.workspace_tree import WorkspaceTree

LONG = "".join(f"line {n}\n" for n in range(1, 61))
LONG_EDITED = "".join(
    f"line {n} edited\n" if n in (5, 20, 35, 50) else f"line {n}\n" for n in range(1, 61)
)
EDIT_CALC = call("edit_file", file_path="src/calc.py", old_string="a + b", new_string="b + a")
WRITE_LONG = call("write_file", file_path="long.txt", content=LONG_EDITED)
WRITE_README = call("write_file", file_path="README.md", content="# Demo\n\nChanged.\n")

pytestmark = pytest.mark.anyio


@pytest.fixture
def project(project: Path) -> Path:
    (project / "long.txt").write_text(LONG)
    return project


def _app(project: Path, *steps: object, **options: object) -> TillerApp:
    script = [*steps, "Done."] if steps else []
    return make_app(project, script, **options)  # type: ignore[arg-type]


async def _run(pilot, text: str = "go") -> None:
    await pilot.press(*text, "enter")
    await settle(pilot)


async def _review(pilot) -> ReviewScreen:
    await pilot.press("f4")
    await until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


def _current(screen: ReviewScreen) -> str | None:
    return screen.current.path if screen.current is not None else None


async def test_f4_lists_every_changed_file(project: Path) -> None:
    """F4 opens review mode with one entry per changed file, in path order."""
    app = _app(project, EDIT_CALC, WRITE_LONG)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        assert [(e.path, e.kind) for e in screen.entries] == [
            ("long.txt", "modified"),
            ("src/calc.py", "modified"),
        ]


async def test_n_and_p_move_between_files(project: Path) -> None:
    """n shows the next file, p the previous one; both stop at the ends."""
    app = _app(project, EDIT_CALC, WRITE_LONG)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        await pilot.press("p", "p")
        seen = [_current(screen)]
        for key in ("n", "n", "p", "p"):
            await pilot.press(key)
            seen.append(_current(screen))
        assert seen == ["long.txt", "src/calc.py", "src/calc.py", "long.txt", "long.txt"]


async def test_bracket_jumps_to_the_next_hunk(project: Path) -> None:
    """] scrolls the second hunk to the top; [ goes back to the first."""
    app = _app(project, WRITE_LONG)
    async with app.run_test(size=(160, 24)) as pilot:
        await started(pilot)
        await _run(pilot)
        await _review(pilot)
        view = app.screen.query_one(ReviewDiff)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause()
        second = (view.hunk_index, view.scroll_y > 0, view.hunks[1].region.y == view.region.y)
        await pilot.press("left_square_bracket")
        await pilot.pause()
        first = (view.hunk_index, view.hunks[0].region.y == view.region.y)
        assert (second, first) == ((1, True, True), (0, True))


async def test_next_hunk_past_the_last_goes_to_the_next_file(project: Path) -> None:
    """] on a file's last hunk moves on to the next file's first hunk."""
    app = _app(project, EDIT_CALC, WRITE_LONG)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        await pilot.press("p")
        await pilot.press(*["right_square_bracket"] * 5)
        await pilot.pause()
        await pilot.pause()
        assert (_current(screen), screen.query_one(ReviewDiff).hunk_index) == ("src/calc.py", 0)


@pytest.mark.parametrize("key", ["escape", "f4", "q"])
async def test_leaving_review_returns_focus_to_the_prompt(project: Path, key: str) -> None:
    """Esc, F4 or q closes review mode, and typing lands in the prompt again."""
    app = _app(project, EDIT_CALC)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        await _review(pilot)
        await pilot.press(key)
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        await pilot.press("h", "i")
        assert (type(app.focused), app.main.query_one(Prompt).text) == (Prompt, "hi")


async def test_r_reverts_the_file_and_ctrl_z_brings_it_back(project: Path) -> None:
    """r drops the shown file's change; Ctrl+Z in review mode restores it."""
    app = _app(project, EDIT_CALC, WRITE_LONG)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        await pilot.press("p")
        workspace = app.main.session.workspace
        await pilot.press("r")
        await until(pilot, lambda: len(screen.entries) == 1)
        after_revert = [path for path, _ in workspace.changes()]
        await pilot.press("ctrl+z")
        await until(pilot, lambda: len(screen.entries) == 2)
        assert (after_revert, workspace.read("long.txt")) == (["src/calc.py"], LONG_EDITED)


async def test_a_flushes_only_the_shown_file(project: Path) -> None:
    """a opens the flush dialog for the shown file alone; confirming writes just it."""
    app = _app(project, EDIT_CALC, WRITE_LONG)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        await _review(pilot)
        await pilot.press("p", "a")
        await until(pilot, lambda: isinstance(app.screen, FlushScreen))
        listed = [path for path, _ in app.screen.changes]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        on_disk = (project / "long.txt").read_text(), (project / "src/calc.py").read_text()
        assert (listed, on_disk) == (
            ["long.txt"],
            (
                LONG_EDITED,
                "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
            ),
        )


async def test_d_shows_what_changed_on_disk(project: Path) -> None:
    """A file edited on disk behind Tiller's back is marked, and d shows base -> disk."""
    app = _app(project, WRITE_README)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        (project / "README.md").write_text("# Demo\n\nEdited by hand.\n")
        screen = await _review(pilot)
        await pilot.press("d")
        await pilot.pause()
        header = str(screen.query_one(ReviewDiff).query_one(".review-header").render())
        lines = screen.workspace.disk_diff("README.md").splitlines()[-2:]
        assert (screen.entries[0].on_disk, header.startswith("On disk since"), lines) == (
            True,
            True,
            ["-A tiny project.", "+Edited by hand."],
        )


async def test_a_move_is_one_renamed_entry(project: Path) -> None:
    """Write new + delete old with the same text: one R entry, old → new."""
    move = call("write_file", file_path="docs/long.txt", content=LONG)
    app = _app(project, move)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        app.main.session.workspace.delete("long.txt")
        screen = await _review(pilot)
        labels = [str(label) for label in screen.query_one(FileList).labels]
        assert (screen.entries[0].kind, labels) == ("renamed", ["R long.txt → docs/long.txt"])


@pytest.mark.parametrize(
    ("size", "split", "list_shown"), [((160, 45), True, True), ((80, 24), False, False)]
)
async def test_layout_follows_the_width(
    project: Path, size: tuple[int, int], split: bool, list_shown: bool
) -> None:
    """Side by side with the file list at 160 columns; unified, no list, at 80."""
    app = _app(project, EDIT_CALC)
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        shown = screen.query_one(FileList).display and not screen.has_class("-narrow")
        assert (screen._split_now(), shown) == (split, list_shown)


async def test_s_switches_split_and_unified(project: Path) -> None:
    """s flips the automatic choice."""
    app = _app(project, EDIT_CALC)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        await pilot.press("s")
        assert screen._split_now() is False


async def test_revert_is_refused_while_the_agent_runs(project: Path) -> None:
    """During a run r changes nothing (the agent may be editing that file)."""
    gate = threading.Event()
    held = Step(text="still going", gate=gate)
    app = make_app(project, [WRITE_README, held])
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await pilot.press(*"go", "enter")
        await reached(held)
        await until(pilot, lambda: app.main.session.workspace.changes())
        await _review(pilot)
        await pilot.press("r")
        await pilot.pause()
        changes = app.main.session.workspace.changes()
        gate.set()
        await settle(pilot)
        assert changes == [("README.md", "modified")]


@pytest.mark.parametrize(("keys", "width"), [(("f9",), "45w"), (("f8", "f8"), "25w")])
async def test_f8_f9_resize_the_sidebar(project: Path, keys: tuple[str, ...], width: str) -> None:
    """F9 widens the sidebar a step, F8 narrows it; the width stays after Ctrl+B twice."""
    app = _app(project)
    async with app.run_test(size=(120, 36)) as pilot:
        await started(pilot)
        await pilot.press(*keys, "ctrl+b", "ctrl+b")
        await pilot.pause()
        assert str(app.main.query_one("#sidebar").styles.width) == width


async def test_tree_marks_a_rename_and_a_disk_change(project: Path) -> None:
    """The tree labels a move R (with the old name) and a disk edit under a change `!`."""
    app = _app(project, WRITE_README, call("write_file", file_path="moved.txt", content=LONG))
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        app.main.session.workspace.delete("long.txt")
        (project / "README.md").write_text("edited by hand\n")
        tree = app.main.query_one(WorkspaceTree)
        tree.refresh_changes()
        labels = {str(node.data): str(node.label) for node in tree._walk(tree.root)}
        assert (labels["moved.txt"], labels["long.txt"], labels["README.md"]) == (
            "moved.txt R 100% ← long.txt",
            "long.txt R → moved.txt",
            "README.md M !",
        )


async def test_review_opens_on_the_first_file_after_all_changes(project: Path) -> None:
    """With the sidebar on "all changes", review mode starts at the first file."""
    app = _app(project, WRITE_README, call("write_file", file_path="zz.txt", content="z\n"))
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        app.main.query_one("#diff").show(app.main.session.workspace, None)
        screen = await _review(pilot)
        assert _current(screen) == "README.md"


async def test_review_opens_on_the_file_the_sidebar_shows(project: Path) -> None:
    """The file selected in the tree is the one review mode shows first."""
    app = _app(project, WRITE_README, call("write_file", file_path="zz.txt", content="z\n"))
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        app.main.query_one(WorkspaceTree).select_path("zz.txt")
        await pilot.pause()
        screen = await _review(pilot)
        assert _current(screen) == "zz.txt"


async def test_clicking_a_file_shows_it(project: Path) -> None:
    """A click on a line of the file list shows that file."""
    app = _app(project, EDIT_CALC, WRITE_LONG)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        await pilot.click(FileList, offset=(2, 1))
        await pilot.pause()
        assert _current(screen) == "src/calc.py"


async def test_the_file_list_scrolls_to_the_current_file(project: Path) -> None:
    """With more files than rows, the current file's line is kept on screen."""
    app = _app(project)
    async with app.run_test(size=(160, 12)) as pilot:
        await started(pilot)
        workspace = app.main.session.workspace
        for n in range(16):
            workspace.write(f"f{n:02}.txt", f"{n}\n")
        screen = await _review(pilot)
        await pilot.press("p")
        await pilot.press(*["n"] * 15)
        await pilot.pause()
        files = screen.query_one(FileList)
        top = files.scroll_offset.y
        assert (_current(screen), top <= 15 < top + files.size.height) == ("f15.txt", True)


async def test_a_long_path_keeps_its_file_name(project: Path) -> None:
    """A path wider than the list shows its marker and its end, with … in the middle."""
    deep = "a/very/deeply/nested/directory/structure/that/goes/on/and/on/file_name.py"
    app = _app(project, call("write_file", file_path=deep, content="x = 1\n"))
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        screen = await _review(pilot)
        files = screen.query_one(FileList)
        line = "".join(segment.text for segment in files.render_line(0)).rstrip()
        assert (line[:3], line.endswith("file_name.py"), len(line) <= files.size.width) == (
            "A …",
            True,
            True,
        )


async def test_flush_dialog_lists_every_file_the_flush_writes(project: Path) -> None:
    """Flushing a deleted file with a new file under its name lists both, as it writes both."""
    app = _app(project)
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        workspace = app.main.session.workspace
        workspace.delete("README.md")
        workspace.write("README.md/notes.txt", "notes\n")
        screen = await _review(pilot)
        await until(pilot, lambda: _current(screen) == "README.md")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, FlushScreen))
        listed = [path for path, _ in app.screen.changes]
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert (listed, workspace.changes()) == (["README.md", "README.md/notes.txt"], [])


async def test_d_on_a_move_shows_the_disk_change_of_its_old_file(project: Path) -> None:
    """A move whose old file was edited on disk: d shows that edit, not an empty diff."""
    app = _app(project, call("write_file", file_path="docs/long.txt", content=LONG))
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        app.main.session.workspace.delete("long.txt")
        (project / "long.txt").write_text(LONG + "edited by hand\n")
        screen = await _review(pilot)
        await pilot.press("d")
        await pilot.pause()
        view = screen.query_one(ReviewDiff)
        header = str(view.query_one(".review-header").render())
        assert (screen.entries[0].kind, "docs/" in header, len(view.hunks)) == (
            "renamed",
            False,
            1,
        )


async def test_sidebar_marks_a_move_whose_old_file_changed_on_disk(project: Path) -> None:
    """The sidebar diff of a move flags a disk edit under its old name, as review mode does."""
    app = _app(project, call("write_file", file_path="docs/long.txt", content=LONG))
    async with app.run_test(size=(160, 45)) as pilot:
        await started(pilot)
        await _run(pilot)
        workspace = app.main.session.workspace
        workspace.delete("long.txt")
        (project / "long.txt").write_text(LONG + "edited by hand\n")
        view = app.main.query_one(DiffView)
        view.show(workspace, "docs/long.txt")
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(view._renderable())
        assert "changed on disk" in console.export_text()
