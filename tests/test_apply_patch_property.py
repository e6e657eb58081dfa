"""Property: a diff turned into a v4a patch rebuilds the target file exactly."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from tiller.tools.patch_format import parse_patch
from tiller.tools.patch_plan import plan_patch

# Distinct lines make each hunk's context unique, so where it applies is not a guess.
ORIGINAL = st.lists(st.integers(0, 10_000), unique=True, max_size=40).map(
    lambda ids: [f"line {i}\n" for i in ids]
)


@st.composite
def edited(draw: st.DrawFn) -> tuple[list[str], list[str], int]:
    original = draw(ORIGINAL)
    kept = [line for line in original if draw(st.booleans())]
    target: list[str] = []
    for number, line in enumerate(kept):
        if draw(st.integers(0, 4)) == 0:
            target.append(f"new {number}\n")
        target.append(line)
    if draw(st.booleans()):
        target.append("new tail\n")
    return original, target, draw(st.integers(1, 3))


def as_v4a(path: str, original: list[str], target: list[str], context: int) -> str:
    """A unified diff rewritten as a v4a update (its `@@ -a,b +c,d @@` headers kept)."""
    diff = difflib.unified_diff(original, target, n=context)
    body = [line.rstrip("\n") for line in diff if not line.startswith(("---", "+++"))]
    return "\n".join(["*** Begin Patch", f"*** Update File: {path}", *body, "*** End Patch"])


@settings(max_examples=300, deadline=None)
@given(edited())
def test_diff_as_v4a_patch_rebuilds_target(case: tuple[list[str], list[str], int]) -> None:
    """Applying the patch to the original gives the target, with no fuzzy notes."""
    original, target, context = case
    if original == target:
        return
    files = {"f.txt": "".join(original)}
    text = as_v4a("f.txt", original, target, context)
    plan = plan_patch(parse_patch(text), files.__getitem__, files.__contains__)
    assert (plan.changes, plan.notes) == ((("f.txt", "".join(target)),), ())
