"""`/model`: pick a model from a short list or type any litellm id."""

from __future__ import annotations

import os
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tiller.terminal_text import visible
from tiller.tui.markup import escape

SUGGESTED_MODELS = (
    "anthropic/claude-sonnet-4-5",
    "openai/gpt-5",
    "openrouter/anthropic/claude-sonnet-4.5",
    "gemini/gemini-2.5-pro",
    "ollama_chat/qwen3",
)


def key_status(model: str) -> str:
    """`OPENAI_API_KEY set`, `needs OPENAI_API_KEY`, or `no key needed`."""
    from tiller.llm import provider_key_env

    variable = provider_key_env(model)
    if variable is None:
        return "no key needed (or unknown provider)"
    return f"{variable} set" if os.environ.get(variable) else f"needs {variable}"


class ModelPickerScreen(ModalScreen[str | None]):
    """Dismisses with the chosen model id, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current
        self.models = list(dict.fromkeys([current, *SUGGESTED_MODELS]))

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="picker") as dialog:
            dialog.border_title = "Model"
            dialog.border_subtitle = "Enter picks · Esc cancels"
            yield Static(
                f"Now: [b]{escape(visible(self.current))}[/b]. Type any litellm id, or pick one:"
            )
            yield Input(placeholder="provider/model, e.g. ollama_chat/qwen3", id="model-input")
            yield OptionList(
                *(
                    Option(
                        f"{escape(visible(model))}  [dim]{escape(key_status(model))}[/dim]",
                        id=model,
                    )
                    for model in self.models
                ),
                id="model-list",
            )

    @on(Input.Submitted, "#model-input")
    def _typed(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(value)
        else:
            self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected, "#model-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
