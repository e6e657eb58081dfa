"""Subagents share the workspace, report back, and respect the depth limit."""

from __future__ import annotations

import json

from tiller import EventKind, Session, SessionConfig
from tiller.events import Event
from tiller.testing.scripted import ScriptedModel, Step, call

SPAWN_AND_WAIT = Step(
    tool_calls=[("spawn_agent", {"task": "write b.txt"}), ("wait", {"agent_id": "agent_1"})]
)


def test_child_write_visible_to_parent() -> None:
    """A file the child writes is in the parent's workspace."""
    model = ScriptedModel(
        [
            SPAWN_AND_WAIT,
            call("write_file", file_path="b.txt", content="from child"),
            "child done",
            "parent done",
        ]
    )
    parent = Session(model, skills_dirs=[])
    reply = parent.send("delegate")
    assert (reply.text, parent.files()) == ("parent done", {"b.txt": "from child"})


def test_wait_returns_child_result() -> None:
    """wait gives the parent the child's output, success and turns used."""
    model = ScriptedModel([SPAWN_AND_WAIT, "child answer", "ok"])
    Session(model, skills_dirs=[]).send("delegate")
    wait_result = model.requests[2].messages[-1]["content"]
    assert json.loads(wait_result) == {
        "output": "child answer",
        "success": True,
        "turns_used": 1,
        "stop_reason": "completed",
    }


def test_child_has_no_spawn_tool_at_depth_limit() -> None:
    """With max_subagent_depth 1 the child's tool list lacks spawn_agent."""
    model = ScriptedModel([SPAWN_AND_WAIT, "child", "parent"])
    Session(model, skills_dirs=[], config=SessionConfig(max_subagent_depth=1)).send("x")
    names = [t["function"]["name"] for t in model.requests[1].tools]
    parent_names = [t["function"]["name"] for t in model.requests[0].tools]
    assert ("spawn_agent" in parent_names, "spawn_agent" in names) == (True, False)


def test_subagent_events() -> None:
    """The parent emits SUBAGENT_STARTED and SUBAGENT_FINISHED."""
    model = ScriptedModel([SPAWN_AND_WAIT, "child", "parent"])
    parent = Session(model, skills_dirs=[])
    events: list[Event] = []
    parent.subscribe(events.append)
    parent.send("x")
    seen = [e.kind for e in events if e.kind.name.startswith("SUBAGENT")]
    assert seen == [EventKind.SUBAGENT_STARTED, EventKind.SUBAGENT_FINISHED]


def test_children_closed_before_parent_end() -> None:
    """Closing the parent closes its children first."""
    model = ScriptedModel(
        [
            Step(tool_calls=[("spawn_agent", {"task": "t"}), ("wait", {"agent_id": "agent_1"})]),
            "c",
            "p",
        ]
    )
    parent = Session(model, skills_dirs=[])
    parent.send("x")
    child = parent.subagents._agents["agent_1"].session
    parent.close()
    assert (child.state.value, parent.state.value) == ("closed", "closed")
