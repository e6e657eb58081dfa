"""A shell command as bash's grammar sees it: the simple commands in it, or why it cannot be read.

Approvals decide on this, never on the raw text (DESIGN §10). `tree-sitter-bash`
parses the command; `parse_command` walks the tree and accepts only plain
structure: simple commands joined by `;`, `&&`, `||`, `|`, newlines, whose words
are literals (bare, `'single'`, `"double"` without expansions, or glued
together). Everything else — substitutions, expansions, assignments, subshells,
groups, control flow, background jobs, here-documents, redirections other than
the harmless ones below — yields a reason instead of commands, so the caller
asks the person.

Harmless redirections: `2>&1` / `1>&2` (descriptor duplication between stdout
and stderr) and writing to exactly `/dev/null` (`>/dev/null`, `2>/dev/null`,
`&>/dev/null`, `>>/dev/null`). Anything else — `> FILE`, `< FILE`, `<<<` — asks.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

SEPARATORS = frozenset({";", "&&", "||", "|", "|&", "\n"})
"""Operators between simple commands that only sequence or pipe them."""

_SYNTAX_REASONS: dict[str, str] = {
    "command_substitution": "runs a command substitution (`$(...)` or backticks)",
    "process_substitution": "runs a process substitution (`<(...)` / `>(...)`)",
    "simple_expansion": "expands a variable (`$NAME`), so what runs is not what is shown",
    "expansion": "expands a variable (`${...}`), so what runs is not what is shown",
    "arithmetic_expansion": "has an arithmetic expansion (`$((...))`)",
    "ansi_c_string": "uses ANSI-C quoting (`$'...'`), which can hide characters",
    "translated_string": 'uses a locale-translated string (`$"..."`)',
    "variable_assignment": "assigns a shell variable",
    "variable_assignments": "assigns shell variables",
    "subshell": "runs a subshell (`( ... )`)",
    "compound_statement": "runs a command group (`{ ...; }`)",
    "heredoc_redirect": "feeds a here-document (`<<`)",
    "herestring_redirect": "feeds a here-string (`<<<`)",
    "function_definition": "defines a shell function",
    "if_statement": "uses shell control flow (`if`)",
    "while_statement": "uses a shell loop (`while` / `until`)",
    "for_statement": "uses a shell loop (`for`)",
    "c_style_for_statement": "uses a shell loop (`for`)",
    "case_statement": "uses shell control flow (`case`)",
    "negated_command": "negates a command (`!`)",
    "test_command": "uses a shell test (`[ ... ]` / `[[ ... ]]`)",
    "declaration_command": "declares shell variables",
    "unset_command": "unsets shell variables",
    "brace_expression": "uses brace expansion (`{a,b}`)",
}

_GLOB_CHARS = "*?["
_BRACE_EXPANSION = re.compile(r"\{[^{}]*(?:,|\.\.)[^{}]*\}")
_DOUBLE_QUOTE_ESCAPES = '$`"\\\n'
_WORD_BREAKS = frozenset(" \t\n;&|<>()")
"""Characters that end an unquoted word in bash."""
_GLUED_CONTINUATION = re.compile(r"[^\s\\](?:\\\\)*\\\n\S")
"""A backslash-newline with no blank on either side: bash glues the text around it
into one word (`-exe` backslash-newline `c` is `-exec`), where the grammar may read two, or a
comment. (Inside single quotes this asks needlessly, never wrongly allows.)"""
_CONTROL = re.compile("[\x01-\x08\x0b-\x1f\x7f]")
"""Control characters besides tab and newline. The grammar reads `\\r` as a blank (so
`ls \\r#; rm x` looked like `ls` and a comment) where bash reads a letter; no real
command needs any of them, and they can hide text on a screen."""
_PARSE_LOCK = threading.Lock()
"""One parser is shared; sessions (and parallel subagents) ask from their own threads."""


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One command with its words as bash would pass them (quotes resolved).

    Attributes:
        argv: the words; `argv[0]` is the program. An unquoted wildcard stays as
            written (`src/*.py`): it names files, and never starts a word.
        text: the command's source text.
    """

    argv: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """The simple commands of a command line, or the reason it cannot be checked.

    Attributes:
        commands: every simple command, in source order (empty when `problem` is set).
        problem: why the command cannot run unasked (empty when it parsed cleanly).
    """

    commands: tuple[SimpleCommand, ...] = ()
    problem: str = ""


class _Unreadable(Exception):
    """Internal: the walk met something that needs the person; the message says what."""


@cache
def _parser() -> Parser:
    # Imported here: only the shell tool's approvals need the grammar.
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


def parse_command(command: str) -> ParsedCommand:
    """Parse `command` with bash's grammar into its simple commands.

    Returns a `ParsedCommand` whose `problem` names the first construct that
    makes the command unsafe to run without asking, if any.
    """
    if "\x00" in command:
        return ParsedCommand(problem="contains a NUL character")
    control = _CONTROL.search(command)
    if control:
        return ParsedCommand(
            problem=f"contains a control character ({ascii(control[0])[1:-1]}), which bash "
            "and Tiller's shell grammar read differently"
        )
    if _GLUED_CONTINUATION.search(command):
        return ParsedCommand(
            problem="joins words without a blank between them (across a `\\` line "
            "continuation), so bash may read other words than shown"
        )
    try:
        source = command.encode("utf-8")
    except UnicodeEncodeError:
        return ParsedCommand(problem="contains characters that are not valid text")
    with _PARSE_LOCK:
        tree = _parser().parse(source)
    root = tree.root_node
    if root.has_error:
        return ParsedCommand(problem="does not parse as a shell command")
    if not _fully_read(root, source):
        return ParsedCommand(problem="has characters the shell grammar skipped")
    found: list[SimpleCommand] = []
    try:
        _statements(root, found)
    except _Unreadable as problem:
        return ParsedCommand(problem=str(problem))
    return ParsedCommand(commands=tuple(found))


def _fully_read(root: Node, source: bytes) -> bool:
    """Whether every byte outside the grammar's tokens is a blank or a line continuation.

    The grammar can step over characters bash reads (`ls \\ #` leaves `\\ `
    in no token); a decision on such a tree would not be about the real command.
    """
    covered = 0
    stack = [root]
    leaves: list[tuple[int, int]] = []
    while stack:
        node = stack.pop()
        if node.child_count == 0:
            leaves.append((node.start_byte, node.end_byte))
        else:
            stack.extend(node.children)
    for start, end in sorted(leaves):
        if start > covered and not _only_blanks(source[covered:start]):
            return False
        covered = max(covered, end)
    return _only_blanks(source[covered:])


def _only_blanks(gap: bytes) -> bool:
    return not gap.replace(b"\\\n", b"").strip(b" \t\r\n")


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def _statements(node: Node, found: list[SimpleCommand]) -> None:
    """A program, list or pipeline: its statements, joined only by plain separators.

    Walked with an explicit stack, not recursion: `a && b && ...` nests one `list`
    per operator, and a long chain must get an answer, not a `RecursionError`.
    """
    pending: list[Node] = [node]
    while pending:
        current = pending.pop()
        if current.type in ("program", "list", "pipeline"):
            for child in current.children:
                if not child.is_named:
                    if child.type == "&":
                        raise _Unreadable("runs a command in the background (`&`)")
                    if child.type not in SEPARATORS:
                        raise _Unreadable(f"uses the shell operator `{child.type}`")
            # Reversed onto the stack, so commands come off it in source order.
            pending.extend(reversed([child for child in current.children if child.is_named]))
        elif current.type == "redirected_statement":
            body = current.child_by_field_name("body")
            if body is None:
                raise _Unreadable("has a redirection without a command")
            for child in current.children:
                if child.id != body.id:
                    _redirect(child, current)
            pending.append(body)
        else:
            _statement(current, found)


def _statement(node: Node, found: list[SimpleCommand]) -> None:
    kind = node.type
    if kind == "comment":
        return
    if kind == "command":
        found.append(_simple_command(node))
    else:
        raise _Unreadable(_reason_for(kind))


def _reason_for(kind: str) -> str:
    return _SYNTAX_REASONS.get(kind, f"uses shell syntax Tiller does not check (`{kind}`)")


def _redirect(node: Node, statement: Node) -> None:
    """Accept only `2>&1`-style duplication and writes to `/dev/null`."""
    if node.type != "file_redirect":
        raise _Unreadable(_reason_for(node.type))
    before = (statement.text or b"")[: node.start_byte - statement.start_byte]
    body = statement.child_by_field_name("body")
    if before.endswith(b"}") and body is not None and body.type == "command":
        # `{NAME}>/dev/null`: bash opens a descriptor and assigns its number to NAME, in
        # the shell itself for a builtin (`true {HOME}>/dev/null; git diff` reads the
        # model's `11/.gitconfig`). The grammar reads `{NAME}` as an argument.
        raise _Unreadable(
            f"assigns a shell variable through a descriptor redirection (`{_text(node)}` "
            "after `{NAME}`)"
        )
    descriptor = ""
    operator = ""
    targets: list[Node] = []
    for child in node.children:
        if child.type == "file_descriptor":
            descriptor = _text(child)
        elif not child.is_named:
            operator = child.type
        else:
            targets.append(child)
    target = _text(targets[0]) if len(targets) == 1 else ""
    if operator == ">&" and descriptor in ("", "1", "2") and target in ("1", "2"):
        return
    if operator in (">", ">>", "&>", "&>>") and targets[0].type == "word" and target == "/dev/null":
        return
    if operator in ("<", "<&", "<>"):
        raise _Unreadable(f"reads input through a redirection (`{_text(node)}`)")
    raise _Unreadable(f"redirects output to a file (`{_text(node)}`)")


def _simple_command(node: Node) -> SimpleCommand:
    argv: list[str] = []
    source = node.text or b""
    previous_end: int | None = None
    for child in node.children:
        if previous_end is not None:
            # Bash splits words only at blanks. The grammar also splits `-exe\<newline>c`
            # (bash removes the backslash-newline first and reads `-exec`) and `{\a`, and
            # drops the escaped blank of `\ a`.
            gap = source[previous_end - node.start_byte : child.start_byte - node.start_byte]
            blanks = gap.replace(b"\\\n", b"")
            if not blanks or blanks.strip(b" \t"):
                raise _Unreadable(
                    "joins words without a blank between them (as across a `\\` line "
                    "continuation), so bash may read other words than shown"
                )
        previous_end = child.end_byte
        if child.type == "command_name":
            named = [part for part in child.children if part.is_named]
            if len(named) != 1:
                raise _Unreadable("has a command name Tiller cannot read")
            argv.append(_word(named[0], command_position=True))
        elif child.type in ("variable_assignment", "variable_assignments"):
            raise _Unreadable(
                f"sets a variable for the command (`{_text(child)}`), which can change what it runs"
            )
        elif child.is_named:
            argv.append(_word(child, command_position=False))
        else:
            raise _Unreadable(f"uses `{child.type}` inside a command")
    if not argv:
        raise _Unreadable("has no command")
    return SimpleCommand(tuple(argv), _text(node))


def _word(node: Node, *, command_position: bool) -> str:
    """The literal a word stands for, or `_Unreadable` when bash would expand it."""
    parts: list[tuple[str, bool]] = []
    _word_parts(node, parts)
    value = "".join(text for text, _ in parts)
    bare = "".join(text if not quoted else "_" * len(text) for text, quoted in parts)
    if bare.startswith("~"):
        raise _Unreadable(f"expands `~` to a home directory (`{_text(node)}`)")
    if _BRACE_EXPANSION.search(bare):
        raise _Unreadable(f"uses brace expansion (`{_text(node)}`)")
    if any(ch in bare for ch in _GLOB_CHARS):
        if command_position:
            raise _Unreadable(f"has a wildcard in the command name (`{_text(node)}`)")
        first = min(bare.find(ch) for ch in _GLOB_CHARS if ch in bare)
        # `src/*.py` and `--include=*.py` only ever name files; `*`, `-*` or `-e*` can
        # expand to any option a planted file name spells.
        if first == 0 or (value.startswith("-") and "=" not in value[:first]):
            raise _Unreadable(
                f"has a wildcard at the start of a word (`{_text(node)}`): file names it "
                "expands to can act as options (`-delete`, `--pre=...`)"
            )
    return value


def _word_parts(node: Node, parts: list[tuple[str, bool]]) -> None:
    kind = node.type
    if kind in ("word", "number"):
        parts.append((_unescape_bare(_text(node)), False))
    elif kind == "raw_string":
        parts.append((_text(node)[1:-1], True))
    elif kind == "string":
        for child in node.children:
            if not child.is_named:
                if child.type != '"':
                    raise _Unreadable(_reason_for(child.type))
            elif child.type != "string_content":
                raise _Unreadable(_reason_for(child.type))
        # From the source between the quotes: the grammar leaves blank-only content
        # (`" "`) out of its `string_content` nodes.
        text = _text(node)
        if len(text) < 2 or text[0] != '"' or text[-1] != '"':
            raise _Unreadable(f"has a quoted word Tiller cannot read (`{text}`)")
        parts.append((_unescape_double(text[1:-1]), True))
    elif kind == "concatenation":
        previous_end = node.start_byte
        for child in node.children:
            if not child.is_named:
                raise _Unreadable(f"uses `{child.type}` inside a word")
            if child.start_byte != previous_end:
                # The grammar glues `{ {` into one word; bash reads two.
                raise _Unreadable(f"has a word Tiller cannot split reliably (`{_text(node)}`)")
            previous_end = child.end_byte
            _word_parts(child, parts)
        if previous_end != node.end_byte:
            raise _Unreadable(f"has a word Tiller cannot split reliably (`{_text(node)}`)")
    else:
        raise _Unreadable(_reason_for(kind))


def _unescape_bare(text: str) -> str:
    """An unquoted word's value: `\\x` is `x`, a backslash-newline vanishes."""
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            following = next(chars, "")
            if following != "\n":
                out.append(following)
        elif ch in _WORD_BREAKS:
            # The grammar sometimes keeps `{ {` as one word; bash splits it there.
            raise _Unreadable(f"has a word Tiller cannot split reliably (`{text}`)")
        else:
            out.append(ch)
    return "".join(out)


def _unescape_double(text: str) -> str:
    """Inside double quotes a backslash escapes only `$`, a backquote, `"`, `\\` and newline."""
    out: list[str] = []
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\" and index + 1 < len(text) and text[index + 1] in _DOUBLE_QUOTE_ESCAPES:
            if text[index + 1] != "\n":
                out.append(text[index + 1])
            index += 2
            continue
        out.append(ch)
        index += 1
    return "".join(out)
