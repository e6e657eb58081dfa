"""The caches behind each model request see every change that matters.

Project docs, the system prompt, the converted history and the tool schemas
are kept between model calls; each test changes one input and checks that the
next request shows it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tiller import Session
from tiller.history import AssistantTurn, UserTurn, to_messages
from tiller.model import ModelRequest
from tiller.openai_http import OpenAIHTTPClient
from tiller.project_docs import default_user_dir
from tiller.testing.scripted import ScriptedModel, call
from tiller.testing.server import FakeOpenAIServer, ServerReply
from tiller.tools.base import FunctionTool


@pytest.fixture(autouse=True)
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user config directory in place of ~/.config/tiller."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    return default_user_dir()


def scripted(*steps: Any, **opts: Any) -> tuple[Session, ScriptedModel]:
    model = ScriptedModel(steps or ["ok", "ok", "ok"])
    opts.setdefault("skills_dirs", [])
    return Session(model, **opts), model


def system_prompt(model: ScriptedModel, index: int) -> str:
    return str(model.requests[index].messages[0]["content"])


def tool_names(model: ScriptedModel, index: int) -> list[str]:
    return [tool["function"]["name"] for tool in model.requests[index].tools]


# -- project docs --------------------------------------------------------------------------


def test_agents_md_written_into_the_workspace_reaches_the_next_request() -> None:
    """An AGENTS.md written between sends is in the next system prompt."""
    session, model = scripted()
    session.send("one")
    session.workspace.write("AGENTS.md", "fresh rules")
    session.send("two")
    assert "fresh rules" in system_prompt(model, 1)


def test_agents_md_written_by_a_tool_reaches_the_next_round() -> None:
    """An AGENTS.md a tool writes in round 1 is in round 2's system prompt."""
    session, model = scripted(call("write_file", file_path="AGENTS.md", content="tool rules"), "ok")
    session.send("go")
    assert "tool rules" in system_prompt(model, 1)


def test_agents_md_in_cwd_written_mid_session_is_loaded() -> None:
    """A new AGENTS.md in the working directory is picked up."""
    session, model = scripted(files={"sub/main.py": ""}, cwd="sub")
    session.send("one")
    session.workspace.write("sub/AGENTS.md", "sub rules")
    session.send("two")
    assert "sub rules" in system_prompt(model, 1)


def test_deleted_agents_md_leaves_the_next_request() -> None:
    """A deleted AGENTS.md is gone from the next system prompt."""
    session, model = scripted(files={"AGENTS.md": "old rules"})
    session.send("one")
    session.workspace.delete("AGENTS.md")
    session.send("two")
    assert "old rules" not in system_prompt(model, 1)


def test_undone_agents_md_edit_restores_the_old_rules() -> None:
    """Undoing a turn's AGENTS.md edit brings the old text back."""
    session, model = scripted(
        call("write_file", file_path="AGENTS.md", content="new rules"), "ok", "ok"
    )
    session.workspace.write("AGENTS.md", "old rules")
    session.send("edit")
    session.workspace.undo()
    session.send("again")
    assert "old rules" in system_prompt(model, 2)


def test_user_agents_md_edited_on_disk_is_picked_up(user_dir: Path) -> None:
    """The user-level AGENTS.md is read again once it changes on disk."""
    user_dir.mkdir(parents=True)
    (user_dir / "AGENTS.md").write_text("user rules v1", encoding="utf-8")
    session, model = scripted()
    session.send("one")
    (user_dir / "AGENTS.md").write_text("user rules, second version", encoding="utf-8")
    session.send("two")
    assert "user rules, second version" in system_prompt(model, 1)


def test_user_agents_md_created_mid_session_is_picked_up(user_dir: Path) -> None:
    """A user-level AGENTS.md created between sends is loaded."""
    session, model = scripted()
    session.send("one")
    user_dir.mkdir(parents=True)
    (user_dir / "AGENTS.md").write_text("late user rules", encoding="utf-8")
    session.send("two")
    assert "late user rules" in system_prompt(model, 1)


def test_base_agents_md_edited_outside_tiller_is_picked_up(tmp_path: Path) -> None:
    """An AGENTS.md in the base directory edited on disk (not through the workspace) is re-read."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "AGENTS.md").write_text("disk rules v1", encoding="utf-8")
    session, model = scripted(root=root)
    session.send("one")
    (root / "AGENTS.md").write_text("disk rules, second version", encoding="utf-8")
    session.send("two")
    assert "disk rules, second version" in system_prompt(model, 1)


# -- system prompt ---------------------------------------------------------------------------


def test_changed_user_system_prompt_reaches_the_next_request() -> None:
    """Setting `system_prompt` between sends changes the next request's system prompt."""
    session, model = scripted(system_prompt="be brief")
    session.send("one")
    session.system_prompt = "be thorough"
    session.send("two")
    assert system_prompt(model, 1).endswith("be thorough")


def test_switched_model_shows_in_the_environment_block() -> None:
    """After `set_model` the environment block names the new model."""
    session, model = scripted()
    session.send("one")
    session.set_model("scripted/claude-other")
    session.send("two")
    assert "Model: scripted/claude-other" in system_prompt(model, 1)


# -- history -------------------------------------------------------------------------------


def test_messages_match_a_full_conversion_after_tool_rounds() -> None:
    """The cached messages equal converting the whole history from scratch."""
    session, model = scripted(call("list_dir"), call("list_dir"), "done")
    session.send("go")
    assert model.requests[-1].messages == to_messages(system_prompt(model, 2), session.history[:-1])


def test_messages_after_clearing_the_history_start_over() -> None:
    """After the history is cleared, the next request holds only the new input."""
    session, model = scripted()
    session.send("one")
    session.history.clear()
    session.send("two")
    assert model.requests[1].messages[1:] == [{"role": "user", "content": "two"}]


def test_messages_after_replacing_the_history_follow_the_new_list() -> None:
    """A history replaced by another list (as `/new` and resume do) is what the model sees."""
    session, model = scripted()
    session.send("one")
    session.history = [UserTurn("earlier"), AssistantTurn("answer")]
    session.send("two")
    assert model.requests[1].messages[1:] == [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "two"},
    ]


def test_messages_after_editing_a_turn_in_place_show_the_edit() -> None:
    """A turn replaced inside the history list is converted again."""
    session, model = scripted()
    session.send("one")
    session.history[0] = UserTurn("edited")
    session.send("two")
    assert model.requests[1].messages[1] == {"role": "user", "content": "edited"}


# -- tool schemas ----------------------------------------------------------------------------


def echo_tool(description: str = "Echo the text.") -> FunctionTool:
    return FunctionTool(
        name="echo",
        description=description,
        parameters={"type": "object", "properties": {}},
        handler=lambda args, ctx: "echo",
    )


def test_added_tool_reaches_the_next_request() -> None:
    """A tool added between sends is offered in the next request."""
    session, model = scripted()
    session.send("one")
    session.add_tools(echo_tool())
    session.send("two")
    assert "echo" in tool_names(model, 1)


def test_replaced_tool_schema_reaches_the_next_request() -> None:
    """Replacing a tool in the registry changes the schema sent next."""
    session, model = scripted(tools=[echo_tool()])
    session.send("one")
    session.registry.replace(echo_tool("Echo, loudly."))
    session.send("two")
    descriptions = {
        t["function"]["name"]: t["function"]["description"] for t in model.requests[1].tools
    }
    assert descriptions["echo"] == "Echo, loudly."


# -- the openai transport's request bodies ---------------------------------------------------


def test_openai_client_sends_each_requests_own_messages_and_tools(
    fake_server: FakeOpenAIServer,
) -> None:
    """A client reused across requests encodes what changed, not what it sent last."""
    fake_server.add(ServerReply(text="one"), ServerReply(text="two"))
    client = OpenAIHTTPClient()
    options = {"api_base": fake_server.base_url, "api_key": "sk-test"}
    system = {"role": "system", "content": "rules"}
    tool = {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}}
    first = [system, {"role": "user", "content": "hi"}]
    client.complete(
        ModelRequest("openai/fake-model", first, [tool], options),
        on_text=lambda _: None,
        cancel=threading.Event(),
    )
    second = [system, {"role": "user", "content": "changed"}, {"role": "user", "content": "more"}]
    other = {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}}
    client.complete(
        ModelRequest("openai/fake-model", second, [tool, other], options),
        on_text=lambda _: None,
        cancel=threading.Event(),
    )
    body = fake_server.requests[1].body
    assert (body["messages"], body["tools"]) == (second, [tool, other])


def test_openai_client_body_keeps_the_endpoint_options(fake_server: FakeOpenAIServer) -> None:
    """Options, streaming and usage reporting sit beside the spliced messages and tools."""
    fake_server.add(ServerReply(text="ok"))
    request = ModelRequest(
        "openai/fake-model",
        [{"role": "user", "content": "hi"}],
        [],
        {"api_base": fake_server.base_url, "api_key": "sk-test", "temperature": 0.5},
    )
    OpenAIHTTPClient().complete(request, on_text=lambda _: None, cancel=threading.Event())
    body = fake_server.requests[0].body
    assert body == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.5,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_openai_client_sends_each_header_once(fake_server: FakeOpenAIServer) -> None:
    """The client's own headers replace the pool's defaults instead of doubling them."""
    fake_server.add(ServerReply(text="ok"))
    request = ModelRequest(
        "openai/fake-model",
        [{"role": "user", "content": "hi"}],
        [],
        {"api_base": fake_server.base_url, "api_key": "sk-test"},
    )
    OpenAIHTTPClient().complete(request, on_text=lambda _: None, cancel=threading.Event())
    accept = [v for k, v in fake_server.requests[0].headers.items() if k.lower() == "accept"]
    assert accept == ["text/event-stream"]
