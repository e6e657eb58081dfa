"""Reasoning effort as a setting (Session, config, flag) and thinking kept in the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiller import EventKind, Session
from tiller.cli import app
from tiller.events import Event
from tiller.history import AssistantTurn, turn_messages
from tiller.journal import turn_from_dict, turn_to_dict
from tiller.model import ToolCall
from tiller.settings import ConfigError, load_settings
from tiller.testing.scripted import ScriptedModel, Step
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SIGNED = {"type": "thinking", "thinking": "plan", "signature": "sig"}


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILLER_CONFIG_DIR", str(tmp_path / "config"))


def test_session_rejects_an_unknown_effort() -> None:
    """`reasoning_effort="extreme"` is refused, naming the choices."""
    with pytest.raises(ValueError, match="none, low, medium, high"):
        Session(ScriptedModel(), reasoning_effort="extreme", skills_dirs=[])


def test_set_reasoning_rejects_an_unknown_effort() -> None:
    """`set_reasoning` validates like the constructor and keeps the old value."""
    session = Session(ScriptedModel(), reasoning_effort="low", skills_dirs=[])
    with pytest.raises(ValueError):
        session.set_reasoning("max")
    assert session.reasoning_effort == "low"


def test_effort_reaches_the_request_options() -> None:
    """The effort goes to the client as the `reasoning_effort` option."""
    model = ScriptedModel(["ok"])
    Session(model, reasoning_effort="medium", skills_dirs=[]).send("go")
    assert model.requests[0].options["reasoning_effort"] == "medium"


def test_no_effort_sends_no_option() -> None:
    """Without a setting, the provider's default applies: no option is sent."""
    model = ScriptedModel(["ok"])
    Session(model, skills_dirs=[]).send("go")
    assert "reasoning_effort" not in model.requests[0].options


def test_config_key_sets_the_effort(tmp_path: Path) -> None:
    """`reasoning = "high"` in the project config becomes a Session argument."""
    (tmp_path / ".tiller").mkdir()
    (tmp_path / ".tiller" / "config.toml").write_text('reasoning = "high"\n')
    settings = load_settings(tmp_path, env={})
    assert settings.llm_options()["reasoning_effort"] == "high"


def test_bad_environment_value_is_a_config_error(tmp_path: Path) -> None:
    """TILLER_REASONING=extreme is reported as a configuration error."""
    with pytest.raises(ConfigError, match="TILLER_REASONING"):
        load_settings(tmp_path, env={"TILLER_REASONING": "extreme"})


def test_flag_turns_thinking_on(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    """`tiller run --reasoning high` on the Anthropic route asks for extended thinking."""
    fake_server.add(ServerReply(text="ok", thinking="hmm"))
    args = ["run", "--model", "anthropic/claude-sonnet-4-5", "--api-base", fake_server.root_url]
    args += ["--root", str(tmp_path), "--skills-dir", str(tmp_path / "none")]
    result = CliRunner().invoke(
        app, [*args, "--reasoning", "high", "go"], env={"ANTHROPIC_API_KEY": "k"}
    )
    assert (result.exit_code, fake_server.requests[0].body["thinking"]["type"]) == (0, "enabled")


def test_bad_flag_is_a_usage_error(tmp_path: Path) -> None:
    """`--reasoning extreme` exits with the usage code before any call."""
    result = CliRunner().invoke(
        app, ["run", "--root", str(tmp_path), "--reasoning", "extreme", "go"]
    )
    assert result.exit_code == 2


def test_scripted_reasoning_streams_as_events() -> None:
    """A model's thinking reaches subscribers as ASSISTANT_REASONING_DELTA."""
    session = Session(ScriptedModel([Step(text="ok", reasoning="thinking...")]), skills_dirs=[])
    events: list[Event] = []
    session.subscribe(events.append)
    session.send("go")
    deltas = [e.data["delta"] for e in events if e.kind is EventKind.ASSISTANT_REASONING_DELTA]
    assert deltas == ["thinking..."]


def test_thinking_blocks_are_kept_in_the_history() -> None:
    """The assistant turn keeps the response's signed thinking blocks."""
    step = Step(tool_calls=[("glob", {"pattern": "*"})], thinking_blocks=[SIGNED])
    session = Session(ScriptedModel([step, "ok"]), skills_dirs=[])
    session.send("go")
    assistant = session.history[1]
    assert isinstance(assistant, AssistantTurn) and assistant.thinking_blocks == (SIGNED,)


def test_thinking_blocks_become_the_messages_thinking_blocks() -> None:
    """An assistant turn's blocks go out as the message's `thinking_blocks` (for litellm)."""
    turn = AssistantTurn("", (ToolCall("c1", "glob", "{}"),), (SIGNED,))
    assert turn_messages(turn)[0]["thinking_blocks"] == [SIGNED]


def test_thinking_blocks_survive_the_journal() -> None:
    """A journaled assistant turn restores with its thinking blocks."""
    turn = AssistantTurn("", (ToolCall("c1", "glob", "{}"),), (SIGNED,))
    assert turn_from_dict(turn_to_dict(turn)) == turn


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_thinking_blocks_do_not_reach_openai(fake_server: FakeOpenAIServer, transport: str) -> None:
    """After a switch away from Claude, the kept blocks are not sent to OpenAI (it rejects them)."""
    fake_server.add(ServerReply(text="ok"))
    step = Step(tool_calls=[("glob", {"pattern": "*"})], thinking_blocks=[SIGNED])
    session = Session(ScriptedModel([step, "done"]), skills_dirs=[])
    session.send("go")
    other = Session(
        "openai/gpt-4o",
        api_base=fake_server.base_url,
        api_key="k",
        skills_dirs=[],
        transport=transport,
    )
    other.history = list(session.history)
    other.send("more")
    assert "thinking_blocks" not in json.dumps(fake_server.requests[0].body)


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_reasoning_content_streams_as_events(fake_server: FakeOpenAIServer, transport: str) -> None:
    """A chat-completions `reasoning_content` stream (DeepSeek style) becomes reasoning events."""
    fake_server.add(ServerReply(text="ok", thinking="step by step", chunk_size=5))
    session = Session(
        "openai/fake-model",
        api_base=fake_server.base_url,
        api_key="k",
        skills_dirs=[],
        transport=transport,
    )
    events: list[Event] = []
    session.subscribe(events.append)
    reply = session.send("go")
    deltas = [e.data["delta"] for e in events if e.kind is EventKind.ASSISTANT_REASONING_DELTA]
    assert ("".join(deltas), reply.text) == ("step by step", "ok")


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_effort_is_dropped_for_a_model_that_cannot_reason(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """gpt-4o has no reasoning setting: the call goes out without it instead of failing."""
    fake_server.add(ServerReply(text="ok"))
    session = Session(
        "openai/gpt-4o",
        api_base=fake_server.base_url,
        api_key="k",
        skills_dirs=[],
        reasoning_effort="low",
        transport=transport,
    )
    reply = session.send("go")
    assert (reply.stop_reason, "reasoning_effort" in fake_server.requests[0].body) == (
        "completed",
        False,
    )


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_effort_is_kept_for_a_model_that_reasons(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """gpt-5 takes a reasoning setting: it reaches the endpoint as `reasoning_effort`."""
    fake_server.add(ServerReply(text="ok"))
    session = Session(
        "openai/gpt-5",
        api_base=fake_server.base_url,
        api_key="k",
        skills_dirs=[],
        reasoning_effort="low",
        transport=transport,
    )
    session.send("go")
    assert fake_server.requests[0].body.get("reasoning_effort") == "low"


OPENROUTER_CLAUDE = "openrouter/anthropic/claude-sonnet-4.5"
DETAIL = {
    "type": "reasoning.text",
    "text": "think",
    "signature": "sig",
    "format": "anthropic-claude-v1",
    "index": 0,
}


def openrouter_session(server: FakeOpenAIServer, transport: str, **options: object) -> Session:
    return Session(
        OPENROUTER_CLAUDE,
        api_base=server.base_url,
        api_key="k",
        skills_dirs=[],
        transport=transport,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("transport", "expected"),
    [
        # The two transports say it in OpenRouter's two accepted forms.
        ("litellm", {"reasoning_effort": "high"}),
        ("openai", {"reasoning": {"effort": "high"}}),
    ],
)
def test_openrouter_gets_the_reasoning_effort(
    fake_server: FakeOpenAIServer, transport: str, expected: dict
) -> None:
    """The effort reaches OpenRouter (lean: its documented `reasoning` object)."""
    fake_server.add(ServerReply(text="ok"))
    openrouter_session(fake_server, transport, reasoning_effort="high").send("go")
    body = fake_server.requests[0].body
    assert {k: body[k] for k in ("reasoning_effort", "reasoning") if k in body} == expected


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_openrouter_reasoning_details_go_back_with_the_assistant_turn(
    fake_server: FakeOpenAIServer, transport: str
) -> None:
    """OpenRouter's reasoning details come back on the assistant message that carried them."""
    fake_server.add(
        ServerReply(tool_calls=[("list_dir", "{}")], reasoning_details=[DETAIL]),
        ServerReply(text="ok"),
    )
    openrouter_session(fake_server, transport).send("go")
    assistant = fake_server.requests[1].body["messages"][2]
    assert (assistant.get("reasoning_details"), "thinking_blocks" in assistant) == (
        [DETAIL],
        False,
    )


def test_streamed_reasoning_details_are_merged_by_index() -> None:
    """Pieces of one detail (text in parts, the signature last) make one whole detail."""
    from tiller.transport import StreamState

    stream = StreamState(on_text=lambda _: None)
    for piece in (
        {"type": "reasoning.text", "text": "th", "index": 0},
        {"type": "reasoning.text", "text": "ink", "index": 0},
        {"type": "reasoning.text", "signature": "sig", "index": 0},
    ):
        stream.feed({"choices": [{"delta": {"reasoning_details": [piece]}}]})
    assert stream.finished(None).thinking_blocks == [
        {"type": "reasoning.text", "text": "think", "index": 0, "signature": "sig"}
    ]
