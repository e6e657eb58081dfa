"""`tiller.completion`: what Tab offers in any prompt (commands, workspace paths)."""

from __future__ import annotations

import os
from pathlib import Path

from tiller.completion import Candidate, Completions, complete_prompt
from tiller.workspace import Workspace


def texts(found: Completions) -> list[str]:
    return [c.text for c in found.candidates]


def test_slash_offers_commands_from_the_start() -> None:
    """`/re` offers every command starting with `re`, replacing from the slash."""
    found = complete_prompt("/re", None)
    assert (found.start, texts(found)) == (0, ["/redo", "/resume", "/reasoning"])


def test_a_command_candidate_carries_its_usage_and_help() -> None:
    """A command is shown with its argument and its one-line help."""
    (found,) = complete_prompt("/expo", None).candidates
    assert found == Candidate("/export", "/export [path]", found.meta, command=True)
    assert found.meta.startswith("Save the changes")


def test_at_offers_paths_after_the_at_sign() -> None:
    """`look at @src/m` offers `src/main.py`, replacing what follows the `@`."""
    workspace = Workspace({"src/main.py": "", "src/util.py": "", "README.md": ""})
    found = complete_prompt("look at @src/m", workspace)
    assert (found.start, texts(found)) == (len("look at @"), ["src/main.py"])


def test_at_offers_directories_with_a_slash() -> None:
    """Directories end in `/` so the next Tab goes inside."""
    workspace = Workspace({"src/main.py": "", "README.md": ""})
    assert texts(complete_prompt("@", workspace)) == ["README.md", "src/"]


def test_at_offers_files_only_the_agent_created(tmp_path: Path) -> None:
    """A file that exists only in the overlay is offered."""
    (tmp_path / "old.py").write_text("x\n")
    workspace = Workspace(root=tmp_path)
    workspace.write("new.py", "y\n")
    assert texts(complete_prompt("@", workspace)) == ["new.py", "old.py"]


def test_at_leaves_out_files_the_agent_deleted(tmp_path: Path) -> None:
    """A file deleted in the overlay is not offered even though it is still on disk."""
    (tmp_path / "gone.py").write_text("x\n")
    (tmp_path / "kept.py").write_text("x\n")
    workspace = Workspace(root=tmp_path)
    workspace.delete("gone.py")
    assert texts(complete_prompt("@", workspace)) == ["kept.py"]


def test_hidden_entries_only_when_a_dot_is_typed() -> None:
    """Dot files stay out of the list until the typed name starts with a dot."""
    workspace = Workspace({".env.example": "", "app.py": ""})
    assert (texts(complete_prompt("@", workspace)), texts(complete_prompt("@.", workspace))) == (
        ["app.py"],
        [".env.example"],
    )


def test_an_unknown_directory_offers_nothing() -> None:
    """`@nowhere/x` is not an error, just no candidates."""
    assert complete_prompt("@nowhere/x", Workspace({"a.py": ""})).candidates == ()


def test_diff_offers_changed_paths(tmp_path: Path) -> None:
    """`/diff ` offers the paths that changed, with their kind."""
    (tmp_path / "a.py").write_text("x\n")
    workspace = Workspace(root=tmp_path)
    workspace.write("b.py", "new\n")
    assert complete_prompt("/diff ", workspace).candidates == (Candidate("b.py", "b.py", "added"),)


def test_plain_words_offer_nothing() -> None:
    """A word without `@` or `/` is left alone."""
    assert complete_prompt("fix the bug", Workspace({"fix.py": ""})).candidates == ()


def test_a_name_that_is_not_utf8_completes_as_its_escape(tmp_path: Path) -> None:
    """`caf\\xe9.py` is offered escaped (printable, kept by the history), and reads back."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src").joinpath(os.fsdecode(b"caf\xe9.py")).write_text("x = 1\n")
    workspace = Workspace(root=tmp_path)
    (found,) = complete_prompt("@src/caf", workspace).candidates
    assert (found.text, found.display, workspace.read(found.text)) == (
        "src/caf\\xe9.py",
        "caf\\xe9.py",
        "x = 1\n",
    )
