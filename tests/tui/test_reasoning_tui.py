"""/reasoning in the TUI, and thinking shown apart from the answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import make_app, settle, started

from tiller.testing.scripted import Step
from tiller.tui.conversation import Notice, Thinking
from tiller.tui.status_bar import StatusBar

pytestmark = pytest.mark.anyio


async def slash(pilot, text: str) -> None:
    await pilot.press(*text, "enter")
    await pilot.pause()


async def test_reasoning_command_sets_the_effort(project: Path) -> None:
    """/reasoning high changes the session's effort and the status bar."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/reasoning high")
        status = app.main.query_one(StatusBar)
        assert (app.main.session.reasoning_effort, status.reasoning) == ("high", "high")


async def test_reasoning_command_refuses_an_unknown_effort(project: Path) -> None:
    """/reasoning extreme says what is allowed and changes nothing."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "/reasoning extreme")
        texts = [str(n.render()) for n in app.main.conversation.query(Notice)]
        assert (app.main.session.reasoning_effort, any("none, low" in t for t in texts)) == (
            None,
            True,
        )


async def test_thinking_is_shown_apart_from_the_answer(project: Path) -> None:
    """Streamed thinking lands in its own Thinking block."""
    app = make_app(project, [Step(text="ok", reasoning="first I look")])
    async with app.run_test() as pilot:
        await started(pilot)
        await slash(pilot, "hi")
        await settle(pilot)
        shown = [str(block.render()) for block in app.main.conversation.query(Thinking)]
        assert shown == ["first I look"]
