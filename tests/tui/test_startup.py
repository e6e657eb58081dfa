"""Fast start: importing the TUI loads neither litellm nor the engine; approvals resolve futures."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import pytest
from tui_helpers import make_app, started, until

from tiller.approvals import Approval, Decision
from tiller.events import Event, EventKind
from tiller.tui.screens.approval import ApprovalScreen


def test_importing_the_tui_is_light() -> None:
    """`tiller.tui.app` imports Textual only: no litellm, no session engine (they load later)."""
    code = (
        "import sys, tiller.tui, tiller.tui.app; "
        "print(sorted(m for m in ('litellm', 'tiller.session', 'tiller.llm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_approval_request_resolves_its_future(project: Path) -> None:
    """An APPROVAL_REQUESTED event opens a modal; `y` resolves the engine's future: allow once."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        future: Future[object] = Future()
        event = Event(
            EventKind.APPROVAL_REQUESTED,
            app.main.session.id,
            {"tool": "shell", "command": "rm -rf build", "future": future},
        )
        app.main.post_message(app.main.EngineEvent(event))
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen) and app.screen.armed)
        await pilot.press("y")
        await until(pilot, future.done)
        assert future.result() == Approval(Decision.ALLOW)
