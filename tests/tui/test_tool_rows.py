"""Tool rows: an edit shows its own diff, titles keep their status at 80 columns, shell
output shows its last lines, searches show their pattern, steered calls say so, and a
subagent's calls sit inside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tui_helpers import make_app, screen_text, settle, started

from tiller.config import SessionConfig
from tiller.events import Event, EventKind
from tiller.testing.scripted import Step, call
from tiller.tui.edit_call import COMPACT_LINES, EditCallBlock, EditDiff, diff_from_arguments
from tiller.tui.shell_call import SHOWN_LINES, ShellCallBlock
from tiller.tui.status_bar import StatusBar
from tiller.tui.subagent_rows import SubagentBlock
from tiller.tui.tool_call import FoldedOutput, ToolCallBlock

pytestmark = pytest.mark.anyio

EDIT_SUB = call(
    "edit_file",
    file_path="src/calc.py",
    old_string="def sub(a, b):\n    return a - b\n",
    new_string="def sub(a: int, b: int) -> int:\n    return a - b\n",
)
ALLOW_ALL = SessionConfig(shell=True, shell_approval="allow")
LONG_COMMAND = "python -m pytest -q tests/test_calc.py --maxfail=1 -p no:cacheprovider; true"


async def run(pilot, text: str = "go") -> None:
    await started(pilot)
    await pilot.press(*text, "enter")
    await settle(pilot)


def diff_lines(view: EditDiff) -> list[str]:
    return [line.rstrip() for line in str(view.render()).splitlines()]


async def test_edit_row_shows_the_diff_of_that_call(project: Path) -> None:
    """An edit_file row shows numbered -/+ lines of its change, not its JSON arguments."""
    app = make_app(project, [EDIT_SUB, "done"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        view = app.main.conversation.query_one(EditDiff)
        assert diff_lines(view)[3:6] == [
            "5 - def sub(a, b):",
            "5 + def sub(a: int, b: int) -> int:",
            "6       return a - b",
        ]


async def test_edit_row_is_open_and_has_no_json(project: Path) -> None:
    """The edit row is open after success and the screen shows no raw arguments."""
    app = make_app(project, [EDIT_SUB, "done"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        block = app.main.conversation.query_one(EditCallBlock)
        assert (block.collapsed, "old_string" in screen_text(app)) == (False, False)


async def test_edit_title_counts_added_and_removed_lines(project: Path) -> None:
    """The title says ✓ with the call's +added −removed."""
    app = make_app(project, [EDIT_SUB, "done"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        assert "edit_file src/calc.py  ✓ +1 −1" in screen_text(app)


async def test_long_edit_shows_twelve_lines_until_clicked(project: Path) -> None:
    """A 30-line write shows COMPACT_LINES lines and how many more; a click shows them all."""
    content = "".join(f"line {n}\n" for n in range(30))
    app = make_app(project, [call("write_file", file_path="long.txt", content=content), "ok"])
    async with app.run_test(size=(100, 60)) as pilot:
        await run(pilot)
        view = app.main.conversation.query_one(EditDiff)
        folded = (view.hidden_rows, diff_lines(view)[COMPACT_LINES])
        await pilot.click(view)
        await pilot.pause()
        assert (folded, view.hidden_rows, len(diff_lines(view))) == (
            (30 - COMPACT_LINES, f"▼ {30 - COMPACT_LINES} more lines (click to show)"),
            0,
            31,
        )


async def test_right_arrow_on_a_focused_row_shows_the_whole_diff(project: Path) -> None:
    """With an edit row's title focused, Right shows every line and Left folds them again."""
    content = "".join(f"line {n}\n" for n in range(30))
    app = make_app(project, [call("write_file", file_path="long.txt", content=content), "ok"])
    async with app.run_test(size=(100, 60)) as pilot:
        await run(pilot)
        block = app.main.conversation.query_one(EditCallBlock)
        block.query_one("CollapsibleTitle").focus()
        await pilot.press("right")
        shown = block.query_one(EditDiff).hidden_rows
        await pilot.press("left")
        assert (shown, block.query_one(EditDiff).hidden_rows) == (0, 30 - COMPACT_LINES)


def test_diff_from_arguments_draws_an_edit_without_the_engine() -> None:
    """A replayed edit (no diff in the event) is drawn from old_string and new_string."""
    raw = '{"file_path": "a.py", "old_string": "x = 1\\n", "new_string": "x = 2\\n"}'
    body = [line for line in diff_from_arguments("edit_file", raw).splitlines() if line[:1] in "+-"]
    assert body == ["--- a/a.py", "+++ b/a.py", "-x = 1", "+x = 2"]


async def test_resumed_edit_row_shows_a_diff(project: Path) -> None:
    """tool_finished without a diff (a replay) still draws the change from the arguments."""
    app = make_app(project)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        conversation = app.main.conversation
        conversation.tool_started("c1", "edit_file", json.dumps(EDIT_SUB.tool_calls[0][1]))
        conversation.tool_finished("c1", "edit_file", "Replaced 1 occurrence.", False, None)
        await pilot.pause()
        view = conversation.query_one(EditDiff)
        assert [line.strip() for line in diff_lines(view)] == [
            "- def sub(a, b):",
            "+ def sub(a: int, b: int) -> int:",
            "return a - b",
        ]


async def test_failed_edit_row_opens_with_the_error(project: Path) -> None:
    """A failed edit is open and shows the tool's error."""
    bad = call("edit_file", file_path="src/calc.py", old_string="nope", new_string="x")
    app = make_app(project, [bad, "ok"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        block = app.main.conversation.query_one(EditCallBlock)
        assert (block.collapsed, "not found" in block.output.lower()) == (False, True)


async def test_grep_row_shows_the_pattern_and_path(project: Path) -> None:
    """A grep row's title names what it looks for and where."""
    grep = call("grep", pattern="def add", path="src", glob_filter="*.py")
    app = make_app(project, [grep, "ok"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        assert "grep 'def add' in src (*.py)  ✓" in screen_text(app)


async def test_tool_title_keeps_its_status_at_80_columns(project: Path) -> None:
    """A long path is cut in the title; the ✓ stays on screen at 80 columns."""
    path = "src/" + "deeply/" * 12 + "module.py"
    app = make_app(project, [call("write_file", file_path=path, content="x\n"), "ok"])
    async with app.run_test(size=(80, 30)) as pilot:
        await run(pilot)
        title = next(line for line in screen_text(app).splitlines() if "write_file" in line)
        assert ("…" in title, title.split("│")[0].rstrip().endswith("✓ +1 −0")) == (True, True)


async def test_shell_title_keeps_exit_code_at_80_columns(project: Path) -> None:
    """At 80 columns a long command is cut and `✓ exit 0` is whole on its line."""
    app = make_app(project, [call("shell", command=LONG_COMMAND), "ok"], config=ALLOW_ALL)
    async with app.run_test(size=(80, 30)) as pilot:
        await run(pilot)
        title = next(line for line in screen_text(app).splitlines() if "$ python" in line)
        assert ("…" in title, "✓ exit 0" in title.split("│")[0]) == (True, True)


async def test_shell_row_shows_the_last_lines_after_success(project: Path) -> None:
    """A successful command stays open with its last SHOWN_LINES lines and a count of the rest."""
    command = "for i in 1 2 3 4 5 6 7 8; do echo row$i; done"
    app = make_app(project, [call("shell", command=command), "ok"], config=ALLOW_ALL)
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        block = app.main.conversation.query_one(ShellCallBlock)
        shown = str(block.query_one(FoldedOutput).render()).splitlines()
        assert (block.collapsed, shown) == (
            False,
            ["▼ 3 earlier lines (click to show)", *(f"row{n}" for n in range(4, 9))],
        )


async def test_shell_output_click_shows_every_line(project: Path) -> None:
    """A click on the folded output shows all of it."""
    command = "for i in 1 2 3 4 5 6 7 8; do echo row$i; done"
    app = make_app(project, [call("shell", command=command), "ok"], config=ALLOW_ALL)
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        output = app.main.conversation.query_one(ShellCallBlock).query_one(FoldedOutput)
        await pilot.click(output)
        await pilot.pause()
        assert str(output.render()).splitlines()[: SHOWN_LINES + 4] == [
            *(f"row{n}" for n in range(1, 9)),
            "▲ click to fold",
        ]


async def test_call_skipped_by_steering_is_not_a_failure(project: Path) -> None:
    """The call a steer skipped says `skipped (steered)` and is not marked as an error."""
    first = Step(tool_calls=[("write_file", {"file_path": "a", "content": "1"}), ("list_dir", {})])
    app = make_app(project, [first, "ok"])
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        session = app.main.session
        assert session is not None

        def steer_once(event: Event) -> None:
            if event.kind is EventKind.TOOL_CALL_END and event.data["call_id"] == "call_1":
                session.steer("stop")

        session.subscribe(steer_once)
        await pilot.press(*"go", "enter")
        await settle(pilot)
        block = app.main.conversation.tool_block("call_2")
        assert block is not None
        assert (block.has_class("-error"), "⤼ skipped (steered)" in str(block.title)) == (
            False,
            True,
        )


async def test_status_bar_keeps_unflushed_at_80_columns(project: Path) -> None:
    """With a long model name and every field set, `N unflushed` is still on the line."""
    app = make_app(project)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        status = app.main.query_one(StatusBar)
        status.model = "openrouter/anthropic/claude-sonnet-4.5"
        status.transport = "openai"
        status.reasoning = "high"
        status.cache_read_tokens = 12_000
        status.input_tokens = 250_000
        status.changes = 7
        await pilot.pause()
        line = screen_text(app).splitlines()[-2]
        assert ("7 unflushed" in line, "openrouter/anthropic/claude-sonnet-4.5" in line) == (
            True,
            True,
        )


async def test_status_bar_cuts_the_model_name_last(project: Path) -> None:
    """At 60 columns the model's name is cut so `N unflushed` still ends the line."""
    app = make_app(project)
    async with app.run_test(size=(60, 24)) as pilot:
        await started(pilot)
        status = app.main.query_one(StatusBar)
        status.model = "openrouter/anthropic/claude-sonnet-4.5-with-a-long-suffix"
        status.changes = 3
        await pilot.pause()
        line = screen_text(app).splitlines()[-2]
        assert (line.endswith("3 unflushed"), "…" in line) == (True, True)


async def test_status_bar_drops_nothing_when_wide(project: Path) -> None:
    """At 160 columns every field is shown."""
    app = make_app(project)
    async with app.run_test(size=(160, 24)) as pilot:
        await started(pilot)
        status = app.main.query_one(StatusBar)
        status.reasoning = "high"
        status.changes = 2
        await pilot.pause()
        line = screen_text(app).splitlines()[-2]
        assert [
            word in line for word in ("reasoning high", "round", " in /", "ctx", "2 unflushed")
        ] == [True] * 5


SPAWN = Step(
    tool_calls=[("spawn_agent", {"task": "write b.txt"}), ("wait", {"agent_id": "agent_1"})]
)


async def test_subagent_rows_nest_under_the_spawn_call(project: Path) -> None:
    """The child's write_file row is inside its subagent block, inside the spawn_agent row."""
    child = call("write_file", file_path="b.txt", content="b\n")
    app = make_app(project, [SPAWN, child, "child done", "parent done"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        conversation = app.main.conversation
        agent = conversation.subagent_block("agent_1")
        row = conversation.tool_block("call_3", "agent_1")
        assert agent is not None and row is not None
        assert (
            row.tool_name,
            row.parent.parent is agent if row.parent else False,
            agent.parent.parent is conversation.tool_block("call_1") if agent.parent else False,
            "✓ done, 2 rounds" in str(agent.title),
        ) == ("write_file", True, True, True)


async def test_subagent_block_collapses(project: Path) -> None:
    """Clicking the subagent's title hides its rows."""
    child = call("write_file", file_path="b.txt", content="b\n")
    app = make_app(project, [SPAWN, child, "child done", "parent done"])
    async with app.run_test(size=(100, 40)) as pilot:
        await run(pilot)
        agent = app.main.conversation.subagent_block("agent_1")
        assert agent is not None
        await pilot.click(agent.query_one("CollapsibleTitle"))
        await pilot.pause()
        row = app.main.conversation.tool_block("call_3", "agent_1")
        assert (agent.collapsed, row is not None and row.region.height) == (True, 0)


async def test_child_call_ids_do_not_replace_the_parents(project: Path) -> None:
    """A child's call with the parent's call id gets its own row."""
    app = make_app(project)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        conversation = app.main.conversation
        conversation.tool_started("c1", "list_dir", "{}")
        conversation.subagent_started("agent_1", "t", "c1")
        conversation.tool_started("c1", "read_file", '{"file_path": "x"}', "agent_1")
        await pilot.pause()
        rows = [
            (b.tool_name, isinstance(b.parent.parent, SubagentBlock))
            for b in conversation.query(ToolCallBlock)
            if b.parent
        ]
        assert rows == [("list_dir", False), ("read_file", True)]


def test_events_pane_says_a_call_was_skipped() -> None:
    """The events pane line of a steered call says `skipped (steering)`, not `error`."""
    from tiller.tui.events_pane import describe

    event = Event(
        EventKind.TOOL_CALL_END, "s", {"name": "list_dir", "is_error": True, "skipped": "steering"}
    )
    assert describe(event) == "name=list_dir skipped (steering)"
