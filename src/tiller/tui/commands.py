"""Slash commands: one table shared by the prompt's completion, `/help` and the command palette."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tiller.tui.screens.main import MainScreen


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A command typed as `/name [argument]`.

    Attributes:
        name: the word after the slash.
        help: one line for completion, help and the palette.
        argument: how the optional argument is shown (empty: none).
        key: the key that does the same, if any.
    """

    name: str
    help: str
    argument: str = ""
    key: str = ""

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.argument}".rstrip()


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "Show every key and command", key="F1"),
    SlashCommand("new", "Start a new conversation (the workspace stays)"),
    SlashCommand("model", "Switch the model", "[model-id]"),
    SlashCommand("flush", "Write the changes to disk (after a confirm)", key="Ctrl+S"),
    SlashCommand("export", "Save the changes as a .patch file", "[path]", key="Ctrl+X"),
    SlashCommand("diff", "Show the diff of every change (or of one path)", "[path]"),
    SlashCommand("undo", "Undo the last turn's edits", key="Ctrl+Z"),
    SlashCommand("redo", "Redo what undo took back", key="Ctrl+Y"),
    SlashCommand("skills", "List the skills the agent can load"),
    SlashCommand("mcp", "MCP servers: status and tools"),
    SlashCommand("sessions", "List the conversations of this window"),
    SlashCommand("resume", "Go back to an earlier conversation", "[id]"),
    SlashCommand("cost", "Tokens and cost so far"),
    SlashCommand("compact", "Summarise the conversation to free context", "[focus]"),
    SlashCommand("reasoning", "Reasoning effort: none, low, medium or high", "[effort]"),
    SlashCommand("continue", "Go on after the agent hit its round limit"),
    SlashCommand("quit", "Quit Tiller", key="Ctrl+Q"),
)

BY_NAME = {command.name: command for command in SLASH_COMMANDS}


def parse_command(text: str) -> tuple[SlashCommand, str] | None:
    """The command and its argument if `text` is `/name [arg]` for a known name."""
    if not text.startswith("/"):
        return None
    name, _, argument = text[1:].strip().partition(" ")
    command = BY_NAME.get(name.lower())
    return None if command is None else (command, argument.strip())


def complete(text: str) -> list[SlashCommand]:
    """Commands whose `/name` starts with `text` (only while no argument is typed)."""
    if not text.startswith("/") or any(c.isspace() for c in text):
        return []
    prefix = text[1:].lower()
    return [command for command in SLASH_COMMANDS if command.name.startswith(prefix)]


class SlashCommandsProvider(Provider):
    """The slash commands in the command palette (Ctrl+P)."""

    def _commands(self) -> list[tuple[str, SlashCommand]]:
        return [(f"/{command.name}  {command.help}", command) for command in SLASH_COMMANDS]

    def _runner(self, command: SlashCommand) -> Callable[[], None]:
        screen = cast("MainScreen", self.screen)

        def run() -> None:
            screen.run_slash(command, "")

        return run

    async def discover(self) -> Hits:
        if not hasattr(self.screen, "run_slash"):
            return
        for display, command in self._commands():
            yield DiscoveryHit(display, self._runner(command), help=command.usage)

    async def search(self, query: str) -> Hits:
        if not hasattr(self.screen, "run_slash"):
            return
        matcher = self.matcher(query)
        for display, command in self._commands():
            score = matcher.match(display)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(display), self._runner(command), help=command.usage
                )
