"""Provider profiles: which edit tool, instructions file and base prompt a model family gets.

A profile is chosen once per model (`pick_profile`) and decides the shape of the
tool set (`edit_file` or `apply_patch`), which provider-specific instructions
file is read next to `AGENTS.md`, and the base system prompt in `prompts/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

ProfileName = Literal["anthropic", "openai", "gemini"]
EditTool = Literal["edit_file", "apply_patch"]

DEFAULT_CONTEXT_WINDOW = 128_000
"""Tokens assumed when the model client cannot tell the real context window."""


@dataclass(frozen=True)
class Profile:
    """How Tiller talks to one model family.

    Attributes:
        name: `anthropic`, `openai` or `gemini`.
        edit_tool: the editing tool the family is trained on.
        instructions_file: the family's own project instructions file, read
            in each directory next to `AGENTS.md`.
        parallel_tool_calls: whether the model may issue several tool calls
            in one response that Tiller may run concurrently.
        shell_timeout_ms: the `shell` tool's default timeout (Claude Code lets
            commands run two minutes; Codex-style models expect ten seconds).
    """

    name: ProfileName
    edit_tool: EditTool
    instructions_file: str
    parallel_tool_calls: bool
    shell_timeout_ms: int = 10_000

    def base_prompt(self) -> str:
        """The family's base system prompt (`prompts/<name>.md`), read once and cached."""
        return _load_prompt(self.name)


ANTHROPIC = Profile(
    "anthropic", "edit_file", "CLAUDE.md", parallel_tool_calls=True, shell_timeout_ms=120_000
)
OPENAI = Profile("openai", "apply_patch", ".codex/instructions.md", parallel_tool_calls=True)
GEMINI = Profile("gemini", "edit_file", "GEMINI.md", parallel_tool_calls=True)

PROFILES: dict[str, Profile] = {p.name: p for p in (ANTHROPIC, OPENAI, GEMINI)}
"""Every profile by name."""

# An o-series model name is a whole token: `o3`, `o4-mini`, `openai/o1-preview`,
# `bedrock/openai.o3`; never the `o3` inside `yolo3` or `qwen3-coder`.
_O_SERIES = re.compile(r"(?:^|[/._:])o\d+(?:$|[-/._:])")


@cache
def _load_prompt(name: str) -> str:
    return resources.files("tiller").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")


def _family(text: str) -> Profile | None:
    if "claude" in text:
        return ANTHROPIC
    if "gpt" in text or "codex" in text or _O_SERIES.search(text):
        return OPENAI
    if "gemini" in text:
        return GEMINI
    return None


def pick_profile(model: str, profile: str | None = None) -> Profile:
    """Choose the profile for `model`, unless `profile` names one explicitly.

    The model id is matched case-insensitively, first on its last path segment
    (`openrouter/anthropic/claude-sonnet-4.5` -> `claude-sonnet-4.5`), then on
    the whole id: `claude` -> anthropic; `gpt`, `codex` or an o-series name
    (`o3`, `o4-mini`) -> openai; `gemini` -> gemini; anything else (Qwen,
    Llama, DeepSeek, ...) -> anthropic, whose `edit_file` tool is the easiest
    for an unknown model to use.

    Args:
        model: a litellm model id.
        profile: an explicit profile name; wins over the model id.

    Returns:
        The profile.

    Raises:
        ValueError: `profile` is not a known profile name.
    """
    if profile is not None:
        try:
            return PROFILES[profile]
        except KeyError:
            valid = ", ".join(PROFILES)
            raise ValueError(f"Unknown profile {profile!r}; choose one of: {valid}") from None
    lowered = model.lower()
    last = lowered.rsplit("/", 1)[-1]
    return _family(last) or _family(lowered) or ANTHROPIC
