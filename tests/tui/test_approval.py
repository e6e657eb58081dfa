"""Shell approvals in the TUI: the modal's answers reach the engine; shell calls stream and fold."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import Future
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, Static
from tui_helpers import make_app, model_of, screen_text, settle, started, type_text, until

from tiller.approvals import Approval, Decision
from tiller.config import SessionConfig
from tiller.events import Event, EventKind
from tiller.testing.scripted import Step, call
from tiller.tui.app import TillerApp
from tiller.tui.screens.approval import ApprovalScreen
from tiller.tui.shell_call import ShellCallBlock
from tiller.tui.status_bar import AWAITING_APPROVAL, StatusBar
from tiller.tui.workspace_tree import WorkspaceTree

pytestmark = pytest.mark.anyio

SHELL = SessionConfig(shell=True)
ALLOW_ALL = SessionConfig(shell=True, shell_approval="allow")


def shell_app(project: Path, steps: list[Step | str], config: SessionConfig = SHELL) -> TillerApp:
    return make_app(project, steps, config=config)


async def send(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


async def asked(pilot) -> ApprovalScreen:
    """Wait for the approval modal to take keys, and return it."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.armed)
    screen = app.screen
    assert isinstance(screen, ApprovalScreen)
    return screen


def reason_of(screen: ApprovalScreen) -> str:
    return screen.query_one("#reason", Input).value


def approval_requests(app: TillerApp) -> list[Event]:
    """Every APPROVAL_REQUESTED the session emitted (recorded by `record`)."""
    return [e for e in app.recorded if e.kind is EventKind.APPROVAL_REQUESTED]  # type: ignore[attr-defined]


def record(app: TillerApp) -> None:
    assert app.main.session is not None
    app.recorded = []  # type: ignore[attr-defined]
    app.main.session.subscribe(app.recorded.append)  # type: ignore[attr-defined]


def request_event(app: TillerApp, command: str, future: Future[object]) -> Event:
    """An APPROVAL_REQUESTED as the engine would emit it."""
    assert app.main.session is not None
    data = {"tool": "shell", "command": command, "cwd": ".", "timeout_ms": 10_000}
    return Event(EventKind.APPROVAL_REQUESTED, app.main.session.id, {**data, "future": future})


async def test_allow_once_runs_the_command_and_its_file_shows(project: Path) -> None:
    """`y` runs the command; the file it creates appears in the workspace tree as added."""
    app = shell_app(project, [call("shell", command="echo hi > made.txt"), "done"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "make a file")
        await asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.main.query_one(WorkspaceTree).changes == {"made.txt": "added"}


async def test_enter_allows_once(project: Path) -> None:
    """Enter on a fresh modal is the same as `y`."""
    app = shell_app(project, [call("shell", command="echo hi > made.txt"), "done"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "make a file")
        await asked(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.session.files()["made.txt"] == "hi\n"


async def test_denial_reason_reaches_the_model(project: Path) -> None:
    """`n`, a typed reason and Enter deny; the model's next request carries the reason."""
    app = shell_app(project, [call("shell", command="rm -rf src"), "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "clean up")
        await asked(pilot)
        await pilot.press("n")
        await type_text(pilot, "any year, not now")
        await pilot.press("enter")
        await settle(pilot)
        assert "any year, not now" in str(model_of(app).requests[-1].messages[-1])


async def test_escape_denies_without_running(project: Path) -> None:
    """Esc in the modal denies: the command never runs and the run goes on."""
    app = shell_app(project, [call("shell", command="echo hi > made.txt"), "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "make a file")
        await asked(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert "made.txt" not in app.main.session.files()


async def test_allow_for_session_does_not_ask_again(project: Path) -> None:
    """`a` allows the command for the session: the same command a second time is not asked."""
    command = "echo x >> log.txt"
    app = shell_app(
        project, [call("shell", command=command), call("shell", command=command), "done"]
    )
    async with app.run_test() as pilot:
        await started(pilot)
        record(app)
        await send(pilot, "log twice")
        await asked(pilot)
        await pilot.press("a")
        await settle(pilot)
        ran = app.main.session.files()["log.txt"]
        assert (len(approval_requests(app)), ran) == (1, "x\nx\n")


async def test_cancelling_the_run_closes_the_modal(project: Path) -> None:
    """The engine cancels the request when the run is cancelled; the modal closes, the run ends."""
    app = shell_app(project, [call("shell", command="echo hi"), "never"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "go")
        await asked(pilot)
        app.main.session.cancel()
        await settle(pilot)
        await until(pilot, lambda: app.screen is app.main)
        assert (app.main.running, app.main.query_one(StatusBar).state) == (False, "idle")


async def test_status_bar_says_awaiting_approval(project: Path) -> None:
    """While the modal is up the status bar shows the run waiting for the person."""
    app = shell_app(project, [call("shell", command="echo hi"), "done"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "go")
        await asked(pilot)
        state = app.main.query_one(StatusBar).state
        await pilot.press("y")
        await settle(pilot)
        assert state == AWAITING_APPROVAL


async def test_simultaneous_requests_each_get_an_answer(project: Path) -> None:
    """Two requests at once (parallel subagents) are asked one after the other, in order."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        first: Future[object] = Future()
        second: Future[object] = Future()
        app.main.post_message(app.main.EngineEvent(request_event(app, "make a", first)))
        app.main.post_message(app.main.EngineEvent(request_event(app, "make b", second)))
        await asked(pilot)
        await pilot.press("y")
        await until(pilot, first.done)
        screen = await asked(pilot)
        await pilot.press("n", "enter")
        await until(pilot, second.done)
        answers = (screen.command, first.result(), second.result())
        assert answers == ("make b", Approval(Decision.ALLOW), Approval(Decision.DENY))


async def test_a_withdrawn_waiting_request_is_never_shown(project: Path) -> None:
    """A queued request the engine cancels before its turn is skipped, not asked."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        first: Future[object] = Future()
        second: Future[object] = Future()
        app.main.post_message(app.main.EngineEvent(request_event(app, "make a", first)))
        app.main.post_message(app.main.EngineEvent(request_event(app, "make b", second)))
        await asked(pilot)
        second.cancel()
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: app.screen is app.main)
        assert app.main.approvals.count == 0


async def test_output_streams_before_the_command_finishes(project: Path) -> None:
    """A running command's output is in the conversation while it still runs."""
    # Outside /tmp, which is private to the sandboxed command, so it sees the release.
    gate = Path(tempfile.mkdtemp(prefix="tiller-gate-", dir="/var/tmp"))
    release = gate / "release"
    # The output ("42 lines") differs from the command's text, which the title shows.
    command = f'echo "$((6 * 7)) lines"; while [ ! -e {release} ]; do sleep 0.05; done'

    app = shell_app(project, [call("shell", command=command), "done"], ALLOW_ALL)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await started(pilot)
            await send(pilot, "go")
            await until(pilot, lambda: "42 lines" in screen_text(app))
            block = app.main.conversation.query_one(ShellCallBlock)
            still_running = not block.finished
        finally:
            release.touch()
        await settle(pilot)
        shutil.rmtree(gate)
        assert still_running


@pytest.mark.parametrize(
    ("command", "collapsed", "status"),
    [("echo fine", True, "✓ exit 0"), ("echo broken; exit 3", False, "✗ exit 3")],
)
async def test_shell_block_folds_on_success_and_opens_on_failure(
    project: Path, command: str, collapsed: bool, status: str
) -> None:
    """A command that exits 0 folds away; a non-zero exit stays open; the title has the code."""
    app = shell_app(project, [call("shell", command=command), "done"], ALLOW_ALL)
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "go")
        await settle(pilot)
        block = app.main.conversation.query_one(ShellCallBlock)
        assert (block.collapsed, status in str(block.title)) == (collapsed, True)


async def test_denied_shell_block_is_open(project: Path) -> None:
    """A denied command's block is open and says so."""
    app = shell_app(project, [call("shell", command="rm -rf src"), "ok"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "clean")
        await asked(pilot)
        await pilot.press("escape")
        await settle(pilot)
        block = app.main.conversation.query_one(ShellCallBlock)
        assert (block.collapsed, "✗ denied" in str(block.title)) == (False, True)


async def test_the_modal_names_the_subagent_that_asks(project: Path) -> None:
    """A request from a subagent says which one asks."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        event = request_event(app, "make", Future())
        event.data["agent_id"] = f"{app.main.session.id}.agent_2"
        app.main.post_message(app.main.EngineEvent(event))
        await asked(pilot)
        assert "Allow subagent agent_2 to run" in screen_text(app)


async def test_fast_output_shows_only_its_tail(project: Path) -> None:
    """Thousands of streamed lines are drawn as the last few, with a count of the rest."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        conversation = app.main.conversation
        conversation.tool_started("call_1", "shell", '{"command": "seq 1 3000"}')
        for number in range(1, 3001):
            conversation.tool_output("call_1", f"{number}\n")
        await pilot.pause()
        output = conversation.query_one(ShellCallBlock).query_one(".tool-output", Static)
        await until(pilot, lambda: "3000" in str(output.render()))
        shown = str(output.render()).splitlines()
        assert (shown[0], shown[-1], len(shown)) == ("… 2985 earlier lines", "3000", 16)


async def test_keys_typed_as_the_modal_opens_do_not_answer_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `y` meant for the prompt, pressed as the modal appears, does not approve."""
    monkeypatch.setattr(ApprovalScreen, "ARM_DELAY", 60.0)
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        future: Future[object] = Future()
        app.main.post_message(app.main.EngineEvent(request_event(app, "make", future)))
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        await pilot.press("y", "enter")
        assert not future.done()


async def test_shell_block_says_it_awaits_approval(project: Path) -> None:
    """While the modal is up, the call's block in the conversation says it awaits approval."""
    app = shell_app(project, [call("shell", command="echo hi"), "done"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "go")
        await asked(pilot)
        title = str(app.main.conversation.query_one(ShellCallBlock).title)
        await pilot.press("y")
        await settle(pilot)
        assert "awaiting approval" in title


async def test_deny_button_asks_for_a_reason_then_denies(project: Path) -> None:
    """With the mouse: the first Deny click opens the reason line, the second denies with it."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        future: Future[object] = Future()
        app.main.post_message(app.main.EngineEvent(request_event(app, "make", future)))
        await asked(pilot)
        await pilot.click("#deny")
        await type_text(pilot, "later")
        await pilot.click("#deny")
        await until(pilot, future.done)
        assert future.result() == Approval(Decision.DENY, "later")


async def test_reason_typed_straight_after_n_never_approves(project: Path) -> None:
    """Keys typed in the same burst as `n` land in the reason, even an `a` or a `y`."""
    model_steps: list[Step | str] = [call("shell", command="rm README.md"), "ok"]
    app = shell_app(project, model_steps)
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "clean up")
        screen = await asked(pilot)
        # One burst, as a terminal delivers fast typing: no pause for the focus to move.
        for char in "nkeep a copy":
            app.post_message(events.Key("space" if char == " " else char, char))
        await until(pilot, lambda: not screen.is_current or reason_of(screen) == "keep a copy")
        await pilot.press("enter")
        await settle(pilot)
        sent = str(model_of(app).requests[-1].messages[-1]["content"])
        assert "Their reason: keep a copy." in sent


async def test_key_hints_appear_when_the_keys_work(project: Path) -> None:
    """The border shows the keys only once the modal is armed."""
    app = shell_app(project, [call("shell", command="true"), "done"])
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "go")
        screen = await asked(pilot)
        assert "y allow" in str(screen.query_one("#dialog").border_subtitle)
