"""Diff colours follow the theme; the parser reads git's rename headers."""

from __future__ import annotations

import pytest
from rich.color import Color
from rich.style import Style
from textual.app import App

from tiller.tui.diff_render import clip, palette_for, parse_diff


def _brightness(style: str) -> float:
    colour = Style.parse(style).bgcolor
    assert colour is not None
    red, green, blue = colour.get_truecolor()
    return (red + green + blue) / 3


@pytest.mark.parametrize(("theme", "light"), [("textual-light", True), ("textual-dark", False)])
def test_tints_follow_the_theme(theme: str, light: bool) -> None:
    """Light themes get light tints and a light code theme; dark ones dark tints."""
    palette = palette_for(App().get_theme(theme))
    tints = [_brightness(palette.added_bg), _brightness(palette.removed_bg)]
    assert ([tint > 128 for tint in tints], palette.syntax == "default") == ([light, light], light)


def test_ansi_theme_gives_styles_rich_can_draw() -> None:
    """An ANSI theme's `ansi_red 50%` values become plain colours, tints dropped."""
    palette = palette_for(App().get_theme("ansi-dark"))
    Color.parse(palette.added)
    assert (palette.added_bg, palette.removed_bg, palette.syntax) == ("", "", "ansi_dark")


def test_parse_diff_reads_a_rename() -> None:
    """A rename header gives the old path, the similarity and kind `renamed`."""
    text = (
        "diff --git a/old.txt b/new.txt\nsimilarity index 75%\nrename from old.txt\n"
        "rename to new.txt\nindex 1111111..2222222 100644\n--- a/old.txt\n+++ b/new.txt\n"
        "@@ -1,4 +1,4 @@\n a\n b\n c\n-d\n+D\n"
    )
    (diff,) = parse_diff(text)
    assert (diff.path, diff.old_path, diff.similarity, diff.kind, diff.stats) == (
        "new.txt",
        "old.txt",
        75,
        "renamed",
        (1, 1),
    )


def test_clip_keeps_the_first_lines_and_counts_the_rest() -> None:
    """A diff over the limit is cut across hunks; the count of lines left out is exact."""
    text = "diff --git a/a b/a\n" + "".join(
        f"@@ -{n * 10 + 1},3 +{n * 10 + 1},3 @@\n x\n-y\n+z\n" for n in range(4)
    )
    (diff,) = parse_diff(text)
    clipped, left_out = clip(diff, 7)
    assert ([len(h.lines) for h in clipped.hunks], left_out) == ([3, 3, 1], 5)
