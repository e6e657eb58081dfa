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
    """The slash commands in the command palette (Ctrl+P): one entry each.

    An entry is the command as typed (`/export [path]`) over its help line and key.
    """

    def _runner(self, command: SlashCommand) -> Callable[[], None]:
        screen = cast("MainScreen", self.screen)

        def run() -> None:
            screen.run_slash(command, "")

        return run

    @staticmethod
    def _help(command: SlashCommand) -> str:
        return f"{command.help} ({command.key})" if command.key else command.help

    async def discover(self) -> Hits:
        if not hasattr(self.screen, "run_slash"):
            return
        for command in SLASH_COMMANDS:
            yield DiscoveryHit(command.usage, self._runner(command), help=self._help(command))

    async def search(self, query: str) -> Hits:
        if not hasattr(self.screen, "run_slash"):
            return
        matcher = self.matcher(query)
        for command in SLASH_COMMANDS:
            score = matcher.match(command.usage)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.usage),
                    self._runner(command),
                    help=self._help(command),
                )
