"""The TUI journals its session and, given `resume`, reopens a saved one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import make_app, notices, settle, started

from tiller.journal import list_journals
from tiller.testing.scripted import call
from tiller.tui.conversation import AssistantMessage, UserMessage
from tiller.tui.tool_call import ToolCallBlock

pytestmark = pytest.mark.anyio


async def test_resume_shows_history_and_restores_the_overlay(project: Path) -> None:
    """A journaled TUI session reopens with its conversation and unflushed edit."""
    steps = [call("write_file", file_path="notes.md", content="hi\n"), "Wrote notes."]
    first = make_app(project, steps, journal=True)
    async with first.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"make notes", "enter")
        await settle(pilot)
    [summary] = list_journals(project)

    second = make_app(project, ["Again."], journal=True, resume=summary.id)
    async with second.run_test() as pilot:
        app = await started(pilot)
        assert app.main.session is not None
        assert app.main.session.id == summary.id
        assert app.main.session.files() == {"notes.md": "hi\n"}
        conversation = app.main.conversation
        assert len(conversation.query(UserMessage)) == 1
        assert [a.source for a in conversation.query(AssistantMessage)] == ["Wrote notes."]
        assert len(conversation.query(ToolCallBlock)) == 1


async def test_resume_names_a_file_change_it_left_out(project: Path) -> None:
    """A change to a file holding a credential is not restored, and the TUI says which file."""
    key = "OPENAI_API_KEY=sk-proj-" + "a1B2" * 10 + "\n"
    steps = [call("write_file", file_path=".env", content=key), "Ok."]
    first = make_app(project, steps, journal=True)
    async with first.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"set the key", "enter")
        await settle(pilot)
    [summary] = list_journals(project)

    second = make_app(project, [], journal=True, resume=summary.id)
    async with second.run_test() as pilot:
        app = await started(pilot)
        warned = [n for n in notices(app) if n.startswith("Warning: ") and ".env" in n]
        assert (app.main.session.files(), len(warned)) == ({}, 1)


async def test_resume_after_compaction_shows_the_marker(project: Path) -> None:
    """A session compacted before it was saved reopens on its summary, shown as a marker."""
    from tiller.tui.conversation import CompactionMarker

    first = make_app(project, ["first", "the summary", "second"], journal=True)
    async with first.run_test() as pilot:
        app = await started(pilot)
        for text in ("one", "/compact", "two"):
            await pilot.press(*text, "enter")
            await settle(pilot)
    [summary] = list_journals(project)

    second = make_app(project, [], journal=True, resume=summary.id)
    async with second.run_test() as pilot:
        app = await started(pilot)
        conversation = app.main.conversation
        assert [m.summary for m in conversation.query(CompactionMarker)] == ["the summary"]
        assert [u.text for u in conversation.query(UserMessage)] == ["two"]
        assert [a.source for a in conversation.query(AssistantMessage)] == ["second"]


async def test_an_empty_window_saves_no_session(project: Path) -> None:
    """Opening and closing the TUI without a prompt leaves no journal behind."""
    app = make_app(project, journal=True)
    async with app.run_test() as pilot:
        await started(pilot)
    assert list_journals(project) == []


async def test_resume_command_opens_a_saved_session(project: Path) -> None:
    """/resume ID opens a conversation saved by an earlier window, with its files."""
    steps = [call("write_file", file_path="notes.md", content="hi\n"), "Wrote notes."]
    first = make_app(project, steps, journal=True)
    async with first.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"make notes", "enter")
        await settle(pilot)
    [summary] = list_journals(project)

    second = make_app(project, [], journal=True)
    async with second.run_test() as pilot:
        app = await started(pilot)
        await pilot.press(*f"/resume {summary.id}", "enter")
        await pilot.pause()
        assert app.main.session.id == summary.id
        assert app.main.session.files() == {"notes.md": "hi\n"}
        assert len(app.main.conversation.query(UserMessage)) == 1
