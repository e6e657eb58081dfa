"""Text deltas: any text into any other, checked against the wrong base."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiller.text_delta import apply_delta, make_delta

lines = st.lists(st.sampled_from(["a\n", "b\n", "a", "\udce9\n", "é", "\n", "xyz\n"]), max_size=40)
texts = lines.map("".join)


@settings(max_examples=150, deadline=None)
@given(texts, texts)
def test_delta_turns_old_into_new(old: str, new: str) -> None:
    """Applying the delta of (old, new) to old gives new."""
    assert apply_delta(old, make_delta(old, new)) == new


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3999), min_size=1, max_size=30), st.data())
def test_delta_of_a_big_file_with_scattered_edits(places: list[int], data: st.DataObject) -> None:
    """Edits spread over a big file (the line-anchored path) still reproduce it exactly."""
    old_lines = [f"line {i}\n" for i in range(4000)]
    new_lines = list(old_lines)
    for place in places:
        new_lines[place] = data.draw(st.sampled_from(["", "changed\n", "x\ny\n", "line 7\n"]))
    old, new = "".join(old_lines), "".join(new_lines)
    assert apply_delta(old, make_delta(old, new)) == new


def test_one_edit_of_a_big_file_is_small() -> None:
    """One line changed in a 1 MB file gives a delta of a few dozen characters."""
    old = "".join(f"line {i}\n" for i in range(100_000))
    new = old.replace("line 50000\n", "line fifty thousand\n")
    assert len(repr(make_delta(old, new))) < 60


@pytest.mark.parametrize("base", ["", "short", "one\ntwo\nthree\n" * 3])
def test_wrong_base_is_refused(base: str) -> None:
    """A delta applied to a base of another length raises instead of guessing."""
    delta = make_delta("one\ntwo\nthree\n" * 2, "one\n2\nthree\n")
    with pytest.raises(ValueError):
        apply_delta(base, delta)
