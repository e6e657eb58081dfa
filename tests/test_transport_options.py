"""The `transport` setting: config key, TILLER_TRANSPORT, --transport, and what Session does."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from tiller.cli_options import resolve_options
from tiller.llm import LiteLLMClient
from tiller.openai_http import OpenAIHTTPClient
from tiller.session import Session
from tiller.settings import ENV_VARS, ConfigError, load_settings
from tiller.transport import resolve_transport


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with an empty user config dir and no TILLER_* variables set."""
    monkeypatch.setenv("TILLER_CONFIG_DIR", str(tmp_path / "user"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    (project / ".tiller").mkdir(parents=True)
    return project


def test_transport_is_unset_by_default(root: Path) -> None:
    """Nothing chosen: no transport reaches the session, so `auto` it is."""
    assert "transport" not in load_settings(root).llm_options()


def test_config_file_sets_the_transport(root: Path) -> None:
    """`transport = "openai"` in the project config reaches the session options."""
    (root / ".tiller" / "config.toml").write_text('transport = "openai"\n')
    assert load_settings(root).llm_options() == {"transport": "openai"}


def test_environment_sets_the_transport(root: Path) -> None:
    """TILLER_TRANSPORT sets it and is named as the source."""
    settings = load_settings(root, env={"TILLER_TRANSPORT": "openai"})
    assert (settings.transport, settings.sources["transport"]) == ("openai", "TILLER_TRANSPORT")


def test_flag_wins_over_the_environment(root: Path) -> None:
    """--transport beats TILLER_TRANSPORT."""
    settings = load_settings(
        root, flags={"transport": "litellm"}, env={"TILLER_TRANSPORT": "openai"}
    )
    assert settings.transport == "litellm"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("config", r"transport must be one of auto, litellm, openai, got 'httpx'"),
        ("env", r"^TILLER_TRANSPORT must be one of auto, litellm, openai, got 'httpx'$"),
        ("flag", r"^--transport must be one of auto, litellm, openai, got 'httpx'$"),
    ],
)
def test_an_unknown_transport_is_a_config_error(root: Path, where: str, expected: str) -> None:
    """A bad value is refused wherever it was given, naming the choices."""
    if where == "config":
        (root / ".tiller" / "config.toml").write_text('transport = "httpx"\n')
    env = {"TILLER_TRANSPORT": "httpx"} if where == "env" else {}
    flags = {"transport": "httpx"} if where == "flag" else {}
    with pytest.raises(ConfigError, match=expected):
        load_settings(root, flags=flags, env=env)


def test_resolve_options_passes_the_transport_to_sessions(root: Path) -> None:
    """The front ends' `--transport` ends up in the session keyword arguments."""
    options = resolve_options(root=root, transport="openai")
    assert options.session_kwargs()["transport"] == "openai"


def test_resolve_options_reports_a_bad_transport_as_a_usage_error(root: Path) -> None:
    """A bad --transport exits with the usage code, not a traceback."""
    with pytest.raises(typer.Exit) as caught:
        resolve_options(root=root, transport="httpx")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("options", "client"),
    [
        ({}, OpenAIHTTPClient),
        ({"transport": "auto"}, OpenAIHTTPClient),
        ({"transport": "litellm"}, LiteLLMClient),
        ({"transport": "openai"}, OpenAIHTTPClient),
    ],
)
def test_session_picks_its_client_from_the_transport(options: dict, client: type) -> None:
    """An `openai/` model: auto (default) and `openai` give the lean client; `litellm` litellm."""
    session = Session("openai/m", skills_dirs=[], **options)
    assert type(session.client) is client


@pytest.mark.parametrize(
    ("model", "api_base", "expected"),
    [
        ("openai/gpt-5", None, "openai"),
        ("openrouter/anthropic/claude-sonnet-4.5", None, "openai"),
        ("hosted_vllm/qwen", "http://127.0.0.1:8000/v1", "openai"),
        ("lm_studio/qwen", None, "openai"),
        ("gpt-4o", None, "openai"),
        ("qwen2.5-coder", "http://127.0.0.1:11434/v1", "openai"),
        ("anthropic/claude-sonnet-4-5", None, "litellm"),
        ("anthropic/claude-sonnet-4-5", "http://127.0.0.1:9/", "litellm"),
        ("claude-sonnet-4-5", "http://127.0.0.1:9/", "litellm"),
        ("gemini/gemini-2.5-pro", None, "litellm"),
        ("bedrock/anthropic.claude-3", None, "litellm"),
        ("vertex_ai/gemini-2.5-pro", None, "litellm"),
        ("azure/my-deployment", "https://x.openai.azure.com", "litellm"),
        ("ollama/llama3", "http://127.0.0.1:11434", "litellm"),
        ("mystery-model", None, "litellm"),
    ],
)
def test_auto_picks_the_lean_client_only_where_the_endpoint_speaks_openai(
    model: str, api_base: str | None, expected: str
) -> None:
    """`auto`: chat-completions endpoints get the lean client, every other provider litellm."""
    assert resolve_transport("auto", model, api_base) == expected


@pytest.mark.parametrize("transport", ["litellm", "openai"])
def test_an_explicit_transport_wins_over_auto(transport: str) -> None:
    """`litellm` and `openai` stay explicit choices whatever the model."""
    assert resolve_transport(transport, "anthropic/claude-sonnet-4-5") == transport


def test_session_says_which_transport_it_uses() -> None:
    """`Session.transport` names the resolved transport, not `auto`."""
    sessions = [Session(m, skills_dirs=[]) for m in ("openrouter/x/y", "anthropic/claude-x")]
    assert [s.transport for s in sessions] == ["openai", "litellm"]


def test_under_auto_a_model_switch_changes_the_client() -> None:
    """Switching from an OpenRouter model to native Anthropic moves the session to litellm."""
    session = Session("openrouter/x/y", skills_dirs=[])
    before = type(session.client)
    session.set_model("anthropic/claude-sonnet-4-5")
    assert (before, type(session.client)) == (OpenAIHTTPClient, LiteLLMClient)


def test_a_forced_transport_survives_a_model_switch() -> None:
    """`transport="openai"` keeps the lean client even for a model auto would not give it."""
    session = Session("openrouter/x/y", skills_dirs=[], transport="openai")
    session.set_model("anthropic/claude-sonnet-4-5")
    assert type(session.client) is OpenAIHTTPClient


def test_session_refuses_an_unknown_transport() -> None:
    """An unknown transport fails loudly, naming the choices."""
    session = Session("openai/m", skills_dirs=[], transport="grpc")
    with pytest.raises(ValueError, match="Unknown transport 'grpc': use 'auto'"):
        session.client  # noqa: B018


def test_transport_is_not_sent_to_the_provider() -> None:
    """The transport chose the client; it is not among the request's provider options."""
    session = Session("openai/m", skills_dirs=[], transport="openai", temperature=0.5)
    assert session.build_request().options == {"temperature": 0.5}
