"""Truncation of tool output before the model sees it (DESIGN §3)."""

from __future__ import annotations

import pytest

from tiller.truncation import (
    DEFAULT_LIMIT,
    TruncationLimit,
    limit_for,
    truncate_chars,
    truncate_lines,
    truncate_output,
)


def test_short_text_is_unchanged() -> None:
    """Text within the limit comes back as it was."""
    assert truncate_chars("abcdef", 6, "head_tail") == "abcdef"


def test_head_tail_keeps_both_ends_with_marker() -> None:
    """head_tail keeps the first and last halves and says how much went where."""
    result = truncate_chars("0123456789", 4, "head_tail")
    expected = "01\n[... 6 characters omitted; the full output is in the event stream ...]\n89"
    assert result == expected


def test_head_tail_odd_limit_gives_tail_the_extra_character() -> None:
    """With an odd limit the head gets the floor half and the tail the rest."""
    result = truncate_chars("0123456789", 5, "head_tail")
    assert (result.split("\n")[0], result.split("\n")[-1]) == ("01", "789")


def test_tail_keeps_the_end_with_marker_first() -> None:
    """tail mode puts the marker first and keeps the last characters."""
    result = truncate_chars("0123456789", 3, "tail")
    assert result == "[... 7 characters omitted; the full output is in the event stream ...]\n789"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("head_tail", "1\n2\n[... 3 lines omitted ...]\n6\n7\n"),
        ("tail", "[... 3 lines omitted ...]\n4\n5\n6\n7\n"),
    ],
)
def test_line_truncation_marker(mode: str, expected: str) -> None:
    """Line truncation replaces the dropped lines with `[... N lines omitted ...]`."""
    text = "".join(f"{n}\n" for n in range(1, 8))
    assert truncate_lines(text, 4, mode) == expected  # type: ignore[arg-type]


def test_lines_within_limit_are_unchanged() -> None:
    """Text with no more lines than the limit comes back as it was."""
    assert truncate_lines("a\nb\n", 2, "tail") == "a\nb\n"


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ("read_file", TruncationLimit(50_000, "head_tail")),
        ("shell", TruncationLimit(30_000, "head_tail", 256)),
        ("grep", TruncationLimit(20_000, "tail", 200)),
        ("glob", TruncationLimit(20_000, "tail", 500)),
        ("edit_file", TruncationLimit(10_000, "tail")),
        ("apply_patch", TruncationLimit(10_000, "tail")),
        ("write_file", TruncationLimit(1_000, "tail")),
        ("spawn_agent", TruncationLimit(20_000, "head_tail")),
        ("wait", TruncationLimit(20_000, "head_tail")),
        ("list_dir", DEFAULT_LIMIT),
    ],
)
def test_limits_table(tool: str, expected: TruncationLimit) -> None:
    """Each tool gets the limit DESIGN §3 lists; others get 20,000 head+tail."""
    assert limit_for(tool) == expected


def test_override_wins_over_table() -> None:
    """An override replaces the table's limit for that tool only."""
    overrides = {"grep": TruncationLimit(5, "head_tail")}
    assert (limit_for("grep", overrides), limit_for("glob", overrides)) == (
        TruncationLimit(5, "head_tail"),
        TruncationLimit(20_000, "tail", 500),
    )


def test_output_cut_by_characters_then_lines() -> None:
    """truncate_output applies the character limit, then the line limit."""
    text = "".join(f"line{n}\n" for n in range(300))
    overrides = {"grep": TruncationLimit(60, "tail", 3)}
    # 60 chars leave the marker line, "292\n" and lines 293-299: 9 lines, 3 kept.
    expected = "[... 6 lines omitted ...]\nline297\nline298\nline299\n"
    assert truncate_output("grep", text, overrides) == expected


def test_output_under_limits_is_unchanged() -> None:
    """truncate_output leaves small output alone."""
    assert truncate_output("grep", "a:1: x") == "a:1: x"
