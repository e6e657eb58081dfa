"""The slash commands: one table that the TUI (palette, help, completion) and the REPL read.

Front-end independent: no UI library is imported here. A front end looks a
typed line up with `parse_command`, offers `complete` while the person types,
and asks `Command.needs_idle` whether it may run while the agent works.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    """A command typed as `/name [argument]`.

    Attributes:
        name: the word after the slash.
        help: one line for completion, help and the palette.
        argument: how the optional argument is shown (empty: none).
        key: the TUI key that does the same, if any.
        needs_idle: refused while the agent runs (it would change what the run sees).
    """

    name: str
    help: str
    argument: str = ""
    key: str = ""
    needs_idle: bool = True

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.argument}".rstrip()


COMMANDS: tuple[Command, ...] = (
    Command("help", "Show every key and command", key="F1", needs_idle=False),
    Command("new", "Start a new conversation (the workspace stays)"),
    Command("model", "Show or switch the model", "[model-id]"),
    Command("flush", "Write the changes to disk (after a confirm)", key="Ctrl+S"),
    Command(
        "export", "Save the changes as a .patch file", "[path]", key="Ctrl+X", needs_idle=False
    ),
    Command("diff", "Show the diff of every change (or of one path)", "[path]", needs_idle=False),
    Command("undo", "Undo the last turn's edits", key="Ctrl+Z"),
    Command("redo", "Redo what undo took back", key="Ctrl+Y"),
    Command("skills", "List the skills the agent can load", needs_idle=False),
    Command("mcp", "MCP servers: status and tools", needs_idle=False),
    Command("sessions", "List the saved conversations of this project", needs_idle=False),
    Command("resume", "Open a saved conversation", "[id]"),
    Command("cost", "Tokens and cost so far", needs_idle=False),
    Command("compact", "Summarise the conversation to free context", "[focus]"),
    Command(
        "reasoning",
        "Reasoning effort: none, low, medium or high",
        "[effort]",
        needs_idle=False,
    ),
    Command("continue", "Go on after the agent hit its round limit"),
    Command("quit", "Quit (asks when changes are unflushed)", key="Ctrl+Q", needs_idle=False),
)

BY_NAME: dict[str, Command] = {command.name: command for command in COMMANDS}


def parse_command(text: str) -> tuple[Command, str] | None:
    """The command and its argument if `text` is `/name [arg]` for a known name."""
    if not text.startswith("/"):
        return None
    name, _, argument = text[1:].strip().partition(" ")
    command = BY_NAME.get(name.lower())
    return None if command is None else (command, argument.strip())


def looks_like_command(text: str) -> bool:
    """`/word` alone on its first line: meant as a command (`//` escapes a leading slash)."""
    return text.startswith("/") and not text.startswith("//") and " " not in text.split("\n")[0]


def complete(text: str) -> list[Command]:
    """Commands whose `/name` starts with `text` (only while no argument is typed)."""
    if not text.startswith("/") or any(c.isspace() for c in text):
        return []
    prefix = text[1:].lower()
    return [command for command in COMMANDS if command.name.startswith(prefix)]
