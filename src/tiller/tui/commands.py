"""Slash commands in the TUI: the shared table (`tiller.commands`) and the palette's provider."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tiller.commands import BY_NAME, COMMANDS, Command, complete, looks_like_command, parse_command

if TYPE_CHECKING:
    from tiller.tui.screens.main import MainScreen


# The table lives in `tiller.commands` (the REPL reads it too); these names stay for the TUI.
SlashCommand = Command
SLASH_COMMANDS = COMMANDS

__all__ = [
    "BY_NAME",
    "SLASH_COMMANDS",
    "SlashCommand",
    "SlashCommandsProvider",
    "complete",
    "looks_like_command",
    "parse_command",
]


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
