"""The Textual front end. `run_tui` opens it; importing this package loads nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiller.config import SessionConfig

__all__ = ["run_tui"]


def run_tui(
    *,
    model: str | None,
    root: Path,
    cwd: str,
    max_turns: int = 50,
    api_base: str | None = None,
    api_key: str | None = None,
    transport: str | None = None,
    reasoning: str | None = None,
    profile: str | None = None,
    skills_dirs: list[Path] | None = None,
    resume: str | None = None,
    config: SessionConfig | None = None,
    theme: str | None = None,
    prompt: str | None = None,
) -> None:
    """Open the TUI on `root` and block until the person quits.

    Args:
        model: a litellm model id (None: `TILLER_MODEL`, then the default).
        root: the workspace root; nothing under it changes until a flush.
        cwd: where the person stands, relative to `root`.
        max_turns: model round-trips per prompt.
        api_base: an OpenAI-compatible or provider endpoint (local servers too).
        api_key: a key to use instead of the provider's environment variable.
        transport: `auto` (None: the default), `litellm` or `openai` (the lean client).
        reasoning: the reasoning effort (None: the provider's default).
        profile: `anthropic`, `openai` or `gemini` (None: from the model).
        skills_dirs: where to look for skills (None: the defaults).
        resume: a saved session id to restore first (its history and unflushed overlay).
        config: engine limits (`[limits]` in config.toml); None for the defaults.
        theme: a Textual theme name (settings validated it); one picked in the app is
            written to the user's config file.
        prompt: sent as the first prompt once the session is up (`tiller "PROMPT"`).
    """
    import sys

    from tiller.settings import user_config_path
    from tiller.tui.app import TillerApp, TuiOptions

    # The engine thread (litellm parses every streamed chunk) competes for the GIL;
    # shorter slices let keystrokes reach the screen quickly while text streams.
    sys.setswitchinterval(0.001)

    given = (
        ("api_base", api_base),
        ("api_key", api_key),
        ("transport", transport),
        ("reasoning_effort", reasoning),
    )
    llm_options = {key: value for key, value in given if value}
    options = TuiOptions(
        root=Path(root),
        model=model,
        cwd=cwd,
        max_turns=max_turns,
        profile=profile,
        skills_dirs=skills_dirs,
        llm_options=llm_options,
        journal=True,
        resume=resume,
        config=config,
        theme=theme,
        theme_file=user_config_path(),
        prompt=prompt,
        hangup_closes=True,
    )
    from tiller.tui.typeahead import take_typeahead

    typed, restore = take_typeahead(sys.stdin)
    options.typed_ahead = typed
    try:
        TillerApp(options).run()
    finally:
        restore()
