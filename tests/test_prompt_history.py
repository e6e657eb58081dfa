"""`tiller.prompt_history`: Up/Down history shared by the TUI and the REPL, per data dir."""

from __future__ import annotations

from pathlib import Path

from prompt_toolkit.history import FileHistory

from tiller.prompt_history import MAX_READ_BYTES, PromptHistory, history_path, read_entries


def test_the_file_lives_in_the_data_dir(tmp_path: Path, monkeypatch) -> None:
    """`TILLER_DATA_DIR` decides where the history is kept."""
    monkeypatch.setenv("TILLER_DATA_DIR", str(tmp_path))
    assert history_path() == tmp_path / "chat_history"


def test_added_entries_come_back_newest_first(tmp_path: Path) -> None:
    """Up walks from the newest entry to the oldest, then stops."""
    history = PromptHistory(tmp_path / "h")
    for text in ("one", "two", "three"):
        history.add(text)
    later = PromptHistory(tmp_path / "h")
    assert [later.previous(""), later.previous("three"), later.previous("two")] == [
        "three",
        "two",
        "one",
    ]
    assert later.previous("one") is None


def test_down_returns_to_the_draft(tmp_path: Path) -> None:
    """What was being typed before Up comes back after the newest entry."""
    history = PromptHistory(tmp_path / "h")
    history.add("sent")
    assert history.previous("half typed") == "sent"
    assert (history.next(), history.browsing) == ("half typed", False)


def test_down_without_browsing_does_nothing(tmp_path: Path) -> None:
    """Down on the draft has nowhere to go."""
    assert PromptHistory(tmp_path / "h").next() is None


def test_multi_line_entries_survive(tmp_path: Path) -> None:
    """A prompt with newlines is one entry."""
    PromptHistory(tmp_path / "h").add("line one\nline two")
    assert read_entries(tmp_path / "h") == ["line one\nline two"]


def test_repeats_are_skipped_when_walking(tmp_path: Path) -> None:
    """The same prompt sent twice in a row is one step."""
    history = PromptHistory(tmp_path / "h")
    for text in ("a", "b", "b"):
        history.add(text)
    assert [history.previous(""), history.previous("b")] == ["b", "a"]


def test_the_repl_reads_what_the_tui_wrote(tmp_path: Path) -> None:
    """prompt-toolkit's FileHistory loads our entries (newest first, as it keeps them)."""
    history = PromptHistory(tmp_path / "h")
    history.add("first")
    history.add("second\nline")
    assert list(FileHistory(str(tmp_path / "h")).load_history_strings()) == [
        "second\nline",
        "first",
    ]


def test_the_tui_reads_what_the_repl_wrote(tmp_path: Path) -> None:
    """Entries stored by prompt-toolkit come back in order."""
    stored = FileHistory(str(tmp_path / "h"))
    stored.store_string("from the repl")
    stored.store_string("two\nlines")
    assert read_entries(tmp_path / "h") == ["from the repl", "two\nlines"]


def test_the_file_is_private(tmp_path: Path) -> None:
    """Prompts can hold anything: the file is readable by its owner only."""
    PromptHistory(tmp_path / "h").add("secret-ish")
    assert (tmp_path / "h").stat().st_mode & 0o777 == 0o600


def test_a_missing_file_is_an_empty_history(tmp_path: Path) -> None:
    """No file yet: Up has nothing to show."""
    assert PromptHistory(tmp_path / "none").previous("") is None


def test_line_separators_other_than_newline_stay_in_the_entry(tmp_path: Path) -> None:
    """A carriage return, form feed or U+2028 typed in a prompt is kept, not a line break."""
    text = "first\rsecond\x0cthird\u2028fourth\x1cfifth"
    PromptHistory(tmp_path / "h").add(text)
    assert read_entries(tmp_path / "h") == [text]


def test_a_huge_file_gives_its_newest_whole_entries(tmp_path: Path) -> None:
    """Only the tail is read, from the first whole entry in it: no half entry shows up."""
    path = tmp_path / "h"
    path.write_bytes(b"\n# old\n" + b"+" + b"x" * MAX_READ_BYTES + b"\n")
    history = PromptHistory(path)
    history.add("newest")
    assert read_entries(path) == ["newest"]
