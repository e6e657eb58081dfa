"""`CheckedMessages`: a round checks only the messages it has not seen, and misses none."""

from __future__ import annotations

from typing import Any

from tiller.transport import CheckedMessages


def ascii_only(message: dict[str, Any]) -> bool:
    return str(message["content"]).isascii()


class Counting:
    """A check that counts the messages it is asked about."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, message: dict[str, Any]) -> bool:
        self.asked += 1
        return ascii_only(message)


def test_a_failing_message_added_later_is_found() -> None:
    """A message appended after the first call is checked, and reported when it fails."""
    memo = CheckedMessages(ascii_only)
    history = [{"content": "a"}, {"content": "b"}]
    memo.failing(history)
    assert memo.failing([*history, {"content": "é"}]) == [2]


def test_a_failing_message_in_the_shared_start_is_still_reported() -> None:
    """A message that failed before keeps failing while the history grows after it."""
    memo = CheckedMessages(ascii_only)
    history = [{"content": "a"}, {"content": "é"}]
    memo.failing(history)
    assert memo.failing([*history, {"content": "c"}]) == [1]


def test_a_replaced_message_is_checked_again() -> None:
    """A message replaced in place of one that passed (a compaction) is checked itself."""
    memo = CheckedMessages(ascii_only)
    first = {"content": "a"}
    memo.failing([first, {"content": "b"}])
    assert memo.failing([{"content": "é"}, {"content": "b"}]) == [0]


def test_messages_seen_before_are_not_checked_again() -> None:
    """A growing history (with the tools after it) checks only what is new each round."""
    check = Counting()
    memo = CheckedMessages(check)
    tools = [{"content": "tool"}]
    history = [{"content": str(n)} for n in range(50)]
    memo.failing([*history, *tools])
    history.append({"content": "new"})
    check.asked = 0
    memo.failing([*history, *tools])
    assert check.asked == 1
