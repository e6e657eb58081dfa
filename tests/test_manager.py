"""SessionManager: ordering per session, concurrency across sessions, isolation."""

from __future__ import annotations

import threading

import pytest

from tiller import SessionManager
from tiller.errors import ProviderError
from tiller.manager import UnknownSession
from tiller.testing.scripted import ScriptedModel, Step


def test_send_and_ids() -> None:
    """A started session answers and is listed."""
    with SessionManager(skills_dirs=[]) as manager:
        manager.start("a", model=ScriptedModel(["hello"]))
        reply = manager.send("a", "hi")
        assert (reply.text, manager.ids()) == ("hello", ["a"])


def test_unknown_id_raises_key_error() -> None:
    """An unknown id raises a KeyError naming it."""
    with SessionManager() as manager, pytest.raises(KeyError, match="nope"):
        manager.get("nope")


def test_unknown_session_message_is_readable() -> None:
    """The error text is a sentence, not a quoted repr."""
    assert str(UnknownSession("No session 'x' (known: none).")) == "No session 'x' (known: none)."


def test_duplicate_id_rejected() -> None:
    """Starting an id twice is refused."""
    with SessionManager(skills_dirs=[]) as manager:
        manager.start("a", model=ScriptedModel([]))
        with pytest.raises(ValueError, match="already exists"):
            manager.start("a", model=ScriptedModel([]))


def test_calls_to_one_session_are_ordered() -> None:
    """Two submits to one session run one after the other."""
    with SessionManager(skills_dirs=[]) as manager:
        manager.start("a", model=ScriptedModel(["one", "two"]))
        first, second = manager.submit("a", "1"), manager.submit("a", "2")
        assert (first.result(5).text, second.result(5).text) == ("one", "two")


def test_sessions_run_concurrently() -> None:
    """A held session does not block another one."""
    gate = threading.Event()
    with SessionManager(skills_dirs=[]) as manager:
        manager.start("slow", model=ScriptedModel([Step(text="late", gate=gate)]))
        manager.start("fast", model=ScriptedModel(["quick"]))
        slow = manager.submit("slow", "x")
        fast = manager.send("fast", "y")
        gate.set()
        assert (fast.text, slow.result(5).text) == ("quick", "late")


def test_failing_session_does_not_disturb_others() -> None:
    """One session's provider failure leaves another's reply intact."""
    with SessionManager(skills_dirs=[]) as manager:
        manager.start("bad", model=ScriptedModel([Step(error=ProviderError("down"))]))
        manager.start("good", model=ScriptedModel(["fine"]))
        bad, good = manager.submit("bad", "x"), manager.submit("good", "y")
        assert (bad.result(5).stop_reason, good.result(5).text) == ("error", "fine")


def test_stop_closes_and_forgets() -> None:
    """stop() closes the session and removes it."""
    with SessionManager(skills_dirs=[]) as manager:
        session = manager.start("a", model=ScriptedModel([]))
        manager.stop("a")
        assert (session.state.value, manager.ids()) == ("closed", [])
