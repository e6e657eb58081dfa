"""Tool-call arguments a model (or a provider) made hostile: a clear error result, no crash.

Arguments nested deeper than Python's JSON parser goes (`[[[[...]]]]`, a "JSON bomb")
raise `RecursionError`, which is no `ValueError`: every place that reads a call's
arguments must take it like any other unreadable text.
"""

from __future__ import annotations

from tiller.acp_updates import tool_arguments
from tiller.events import EventKind
from tiller.repl_output import summarize_call
from tiller.session import Session
from tiller.testing.scripted import ScriptedModel, Step
from tiller.tui.tool_call import parse_arguments

BOMB = "[" * 100_000 + "]" * 100_000


def test_a_json_bomb_in_a_tool_call_is_an_error_result_not_a_crash() -> None:
    """The engine runs a call whose arguments nest past the parser as a failed call."""
    model = ScriptedModel([Step(tool_calls=[("read_file", BOMB)]), "done"])
    session = Session(model, skills_dirs=[])
    ends: list[bool] = []
    session.subscribe(
        lambda event: (
            ends.append(event.data["is_error"]) if event.kind is EventKind.TOOL_CALL_END else None
        )
    )
    reply = session.send("go")
    session.close()
    assert (reply.stop_reason, reply.text, ends) == ("completed", "done", [True])


def test_the_repl_summarizes_a_json_bomb_call_by_its_name() -> None:
    """The REPL's one-line summary of such a call is the tool's name."""
    assert summarize_call("read_file", BOMB) == "read_file"


def test_the_tui_reads_a_json_bomb_as_no_arguments() -> None:
    """The TUI's call rows read such arguments as unreadable (None), as for bad JSON."""
    assert parse_arguments(BOMB) is None


def test_the_acp_bridge_reads_a_json_bomb_as_no_arguments() -> None:
    """The ACP bridge reads such arguments as none at all, as for bad JSON."""
    assert tool_arguments(BOMB) == {}
