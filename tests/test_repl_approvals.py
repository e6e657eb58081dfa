"""Reading an approval answer typed in the REPL, and the live output tail."""

from __future__ import annotations

import pytest

from tiller.approvals import Decision
from tiller.repl_approvals import SHOWN_OUTPUT_LINES, OutputTail, parse_answer


@pytest.mark.parametrize(
    ("typed", "decision", "reason"),
    [
        ("y", Decision.ALLOW, ""),
        ("YES", Decision.ALLOW, ""),
        ("a", Decision.ALLOW_SESSION, ""),
        ("n", Decision.DENY, ""),
        ("no, use make test", Decision.DENY, "use make test"),
        ("run the linter first", Decision.DENY, "run the linter first"),
    ],
)
def test_parse_answer(typed: str, decision: Decision, reason: str) -> None:
    """y / a / n, and free text as a denial with that reason."""
    answer = parse_answer(typed)
    assert answer is not None and (answer.decision, answer.reason) == (decision, reason)


def test_empty_answer_asks_again() -> None:
    """An empty line decides nothing."""
    assert parse_answer("  ") is None


def test_output_tail_shows_the_first_lines_then_counts() -> None:
    """Past the limit, lines are counted rather than printed."""
    tail = OutputTail()
    shown = tail.feed("c", "".join(f"{i}\n" for i in range(SHOWN_OUTPUT_LINES + 5)))
    assert (len(shown), tail.finish("c")) == (SHOWN_OUTPUT_LINES, ([], 5))


def test_output_tail_joins_partial_lines() -> None:
    """A line split across deltas prints once, whole."""
    tail = OutputTail()
    assert (tail.feed("c", "hel"), tail.feed("c", "lo\nwor"), tail.finish("c")) == (
        [],
        ["hello"],
        (["wor"], 0),
    )
