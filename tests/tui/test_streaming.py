"""Streamed text: the first words show at once, then in batches; typing comes first."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tui_helpers import make_app, reached, send, settle, started, until

from tiller.testing.scripted import ScriptedModel, Step
from tiller.tui.app import TillerApp
from tiller.tui.conversation import AssistantMessage, Conversation, Notice

pytestmark = pytest.mark.anyio


def shown(conversation: Conversation) -> str:
    return conversation.query_one(AssistantMessage).source


async def test_first_words_show_without_waiting_for_the_interval(project: Path) -> None:
    """With a minute between updates, the first delta is still drawn at once."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        conversation = app.main.conversation
        conversation.stream_interval = 60.0
        conversation.begin_assistant()
        await conversation.append_assistant("Hello")
        await until(pilot, lambda: shown(conversation) == "Hello")
        await conversation.append_assistant(" there")
        await pilot.pause()
        assert shown(conversation) == "Hello"


async def test_streamed_text_waits_while_the_person_types(project: Path) -> None:
    """A key in the prompt holds the next update (up to max_hold)."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        conversation = app.main.conversation
        conversation.typing_pause = conversation.max_hold = 60.0
        conversation.begin_assistant()
        await conversation.append_assistant("Hello")
        await until(pilot, lambda: shown(conversation) == "Hello")
        await pilot.press("x")
        await conversation.append_assistant(" there")
        await conversation._flush_pending()
        await pilot.pause()
        assert shown(conversation) == "Hello"


async def test_end_of_message_draws_what_typing_held(project: Path) -> None:
    """When the message ends, held text is drawn even while the person types."""
    app = make_app(project)
    async with app.run_test() as pilot:
        await started(pilot)
        conversation = app.main.conversation
        conversation.typing_pause = conversation.max_hold = 60.0
        conversation.begin_assistant()
        await conversation.append_assistant("Hello")
        await until(pilot, lambda: shown(conversation) == "Hello")
        await pilot.press("x")
        await conversation.append_assistant(" there")
        await conversation.end_assistant()
        await pilot.pause()
        assert shown(conversation) == "Hello there"


class LoadingModel(ScriptedModel):
    """A scripted model that says its client library is still loading (as litellm's import)."""

    ready = False


def notices(app: TillerApp) -> list[str]:
    return [str(n.render()) for n in app.main.conversation.query(Notice)]


async def test_loading_notice_shows_while_the_first_call_waits(project: Path) -> None:
    """ "loading model client…" is in the conversation while the model has not answered."""
    held = Step(text="hi", gate=threading.Event())
    app = make_app(project, client=LoadingModel([held]))
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "hello")
        await reached(held)
        await until(pilot, lambda: "loading model client…" in notices(app))
        held.gate.set()
        await settle(pilot)


async def test_loading_notice_goes_when_the_model_answers(project: Path) -> None:
    """Once the answer streams, the loading notice is gone."""
    app = make_app(project, client=LoadingModel(["Hello there."]))
    async with app.run_test() as pilot:
        await started(pilot)
        await send(pilot, "hello")
        await settle(pilot)
        assert "loading model client…" not in notices(app)
