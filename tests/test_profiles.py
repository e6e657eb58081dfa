"""Profile selection and the per-family base prompts."""

from __future__ import annotations

import pytest

from tiller.profiles import DEFAULT_CONTEXT_WINDOW, PROFILES, Profile, pick_profile


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("anthropic/claude-sonnet-4-5", "anthropic"),
        ("openrouter/anthropic/claude-sonnet-4.5", "anthropic"),
        ("bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic"),
        ("openai/gpt-5", "openai"),
        ("gpt-4.1-mini", "openai"),
        ("openrouter/openai/gpt-oss-120b", "openai"),
        ("o3", "openai"),
        ("openai/o4-mini", "openai"),
        ("azure/o1-preview", "openai"),
        ("codex-mini-latest", "openai"),
        ("gemini/gemini-2.5-pro", "gemini"),
        ("vertex_ai/Gemini-2.0-Flash", "gemini"),
        ("ollama_chat/qwen3", "anthropic"),
        ("openrouter/qwen/qwen3-coder", "anthropic"),
        ("deepseek/deepseek-chat", "anthropic"),
        ("ollama_chat/yolo3", "anthropic"),
    ],
)
def test_profile_follows_model_id(model: str, expected: str) -> None:
    """The model id picks the profile family, unknown models get anthropic."""
    assert pick_profile(model).name == expected


@pytest.mark.parametrize(
    ("model", "profile", "expected"),
    [
        ("anthropic/claude-sonnet-4-5", "openai", "openai"),
        ("openai/gpt-5", "gemini", "gemini"),
        ("ollama_chat/qwen3", "openai", "openai"),
    ],
)
def test_explicit_profile_wins(model: str, profile: str, expected: str) -> None:
    """A profile named explicitly overrides what the model id suggests."""
    assert pick_profile(model, profile).name == expected


def test_unknown_profile_lists_valid_names() -> None:
    """An unknown profile name is a ValueError naming the valid choices."""
    with pytest.raises(ValueError, match="anthropic, openai, gemini"):
        pick_profile("openai/gpt-5", "mistral")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("anthropic", ("edit_file", "CLAUDE.md")),
        ("openai", ("apply_patch", ".codex/instructions.md")),
        ("gemini", ("edit_file", "GEMINI.md")),
    ],
)
def test_profile_tools_and_instruction_files(name: str, expected: tuple[str, str]) -> None:
    """Each profile has its family's edit tool and instructions file."""
    profile: Profile = PROFILES[name]
    assert (profile.edit_tool, profile.instructions_file) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("anthropic", {"Tiller", "in-memory", "edit_file", "read_file", "skill", "flush"}),
        ("openai", {"Tiller", "in-memory", "apply_patch", "*** Begin Patch", "skill", "flush"}),
        ("gemini", {"Tiller", "in-memory", "edit_file", "read_file", "skill", "flush"}),
    ],
)
def test_base_prompt_covers_the_essentials(name: str, expected: set[str]) -> None:
    """Each base prompt names Tiller, the in-memory workspace, its edit tool and skills."""
    prompt = PROFILES[name].base_prompt()
    assert {phrase for phrase in expected if phrase in prompt} == expected


def test_openai_prompt_does_not_teach_edit_file() -> None:
    """The openai prompt edits with apply_patch only, never edit_file."""
    assert "edit_file" not in PROFILES["openai"].base_prompt()


def test_default_context_window() -> None:
    """The fallback context window is 128k tokens."""
    assert DEFAULT_CONTEXT_WINDOW == 128_000
