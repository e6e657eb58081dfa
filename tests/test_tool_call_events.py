"""What TOOL_CALL_END tells a front end: the diff of an edit, why a call was skipped,
how long it ran without the approval wait; a subagent's calls reach the parent."""

from __future__ import annotations

import threading
from typing import Any

from tiller import EventKind, Session
from tiller.events import Event
from tiller.testing.scripted import ScriptedModel, Step, call
from tiller.tools.base import FunctionTool, ToolContext
from tiller.tools.edit_diff import MAX_DIFF_LINE_CHARS, MAX_DIFF_LINES

CALC = "def add(a, b):\n    return a + b\n"


def ends(events: list[Event]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.kind is EventKind.TOOL_CALL_END]


def run(
    steps: list[Step | str], files: dict[str, str] | None = None, profile: str | None = None
) -> list[Event]:
    session = Session(ScriptedModel(steps), skills_dirs=[], files=files, profile=profile)
    events: list[Event] = []
    session.subscribe(events.append)
    session.send("go")
    return events


def test_edit_file_end_carries_the_diff_of_that_call() -> None:
    """edit_file's TOOL_CALL_END has a git diff of exactly the lines it replaced."""
    edit = call("edit_file", file_path="calc.py", old_string="a + b", new_string="a + b + 0")
    diff = ends(run([edit, "ok"], {"calc.py": CALC}))[0]["diff"]
    assert [line for line in diff.splitlines() if line[:1] in "+-@"] == [
        "--- a/calc.py",
        "+++ b/calc.py",
        "@@ -1,2 +1,2 @@",
        "-    return a + b",
        "+    return a + b + 0",
    ]


def test_second_edit_diff_leaves_out_the_first() -> None:
    """Two edits of one file: the second call's diff shows only its own change."""
    first = call("edit_file", file_path="calc.py", old_string="add", new_string="plus")
    second = call("edit_file", file_path="calc.py", old_string="a + b", new_string="b + a")
    diff = ends(run([first, second, "ok"], {"calc.py": CALC}))[1]["diff"]
    assert [line for line in diff.splitlines() if line[:1] in "+-" and line[1:2] == " "] == [
        "-    return a + b",
        "+    return b + a",
    ]


def test_write_file_diff_of_a_new_file_adds_every_line() -> None:
    """A new file's diff comes from /dev/null."""
    write = call("write_file", file_path="new.txt", content="one\ntwo\n")
    diff = ends(run([write, "ok"]))[0]["diff"]
    assert diff.splitlines()[-5:] == [
        "--- /dev/null",
        "+++ b/new.txt",
        "@@ -0,0 +1,2 @@",
        "+one",
        "+two",
    ]


def test_apply_patch_diff_covers_a_deleted_file() -> None:
    """A patch that deletes a file shows the file going to /dev/null."""
    patch = "*** Begin Patch\n*** Delete File: calc.py\n*** End Patch"
    diff = ends(run([call("apply_patch", patch=patch), "ok"], {"calc.py": CALC}, "openai"))[0][
        "diff"
    ]
    assert ("deleted file mode 100644" in diff, "+++ /dev/null" in diff) == (True, True)


def test_failed_edit_has_no_diff() -> None:
    """An edit that failed changed nothing and carries no diff."""
    edit = call("edit_file", file_path="calc.py", old_string="absent", new_string="x")
    assert "diff" not in ends(run([edit, "ok"], {"calc.py": CALC}))[0]


def test_huge_diff_is_cut_with_a_marker() -> None:
    """A diff longer than MAX_DIFF_LINES is cut and says how much is left out."""
    content = "".join(f"line {n}\n" for n in range(MAX_DIFF_LINES + 50))
    diff = ends(run([call("write_file", file_path="big.txt", content=content), "ok"]))[0]["diff"]
    assert diff.splitlines()[-1] == "… 56 more diff lines"


def test_read_only_calls_carry_no_diff() -> None:
    """Only edit tools get a diff."""
    assert (
        "diff"
        not in ends(run([call("read_file", file_path="calc.py"), "ok"], {"calc.py": CALC}))[0]
    )


def test_call_skipped_by_steering_says_so_as_data() -> None:
    """The rest of a steered round ends with skipped == 'steering'."""
    writes = [("write_file", {"file_path": "a", "content": "1"}), ("list_dir", {})]
    session = Session(ScriptedModel([Step(tool_calls=writes), "ok"]), skills_dirs=[])
    events: list[Event] = []
    session.subscribe(events.append)

    def steer_once(event: Event) -> None:
        if event.kind is EventKind.TOOL_CALL_END and event.data["call_id"] == "call_1":
            session.steer("stop")

    session.subscribe(steer_once)
    session.send("x")
    assert [data.get("skipped") for data in ends(events)] == [None, "steering"]


def test_duration_leaves_out_the_approval_wait() -> None:
    """A call held 1 s by its approval reports the time after the answer only."""
    holder: dict[str, Session] = {}

    def ask(args: dict[str, Any], ctx: ToolContext) -> str:
        holder["session"].request_approval({"call_id": ctx.call_id, "command": "x"})
        return "done"

    tool = FunctionTool("asks", "asks first", {"type": "object", "properties": {}}, ask)
    session = Session(ScriptedModel([call("asks"), "ok"]), skills_dirs=[], tools=[tool])
    holder["session"] = session
    events: list[Event] = []
    session.subscribe(events.append)

    def answer_late(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            future = event.data["future"]
            # The person reads the dialog for a second before answering.
            threading.Timer(1.0, future.set_result, args=(True,)).start()

    session.subscribe(answer_late)
    session.send("x")
    assert ends(events)[0]["duration_ms"] < 500


def test_subagent_calls_reach_the_parent_with_its_id() -> None:
    """The child's tool calls are emitted by the parent with agent_id, after SUBAGENT_STARTED."""
    spawn = Step(tool_calls=[("spawn_agent", {"task": "t"}), ("wait", {"agent_id": "agent_1"})])
    child_write = call("write_file", file_path="b.txt", content="x\n")
    events = run([spawn, child_write, "child done", "parent done"])
    seen = [
        (e.kind.value, e.data.get("name", ""), e.data.get("call_id"))
        for e in events
        if e.data.get("agent_id") == "agent_1"
    ]
    assert seen == [
        ("subagent_started", "", "call_1"),
        ("tool_call_start", "write_file", "call_3"),
        ("tool_call_end", "write_file", "call_3"),
        ("subagent_finished", "", None),
    ]


def test_write_over_a_binary_file_is_not_shown_as_a_new_file(tmp_path) -> None:
    """Overwriting a binary file says its binary content changed, not that a file was made."""
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\0\1\2")
    write = call("write_file", file_path="logo.png", content="text now\n")
    session = Session(ScriptedModel([write, "ok"]), skills_dirs=[], root=tmp_path)
    events: list[Event] = []
    session.subscribe(events.append)
    session.send("go")
    assert ends(events)[0]["diff"] == (
        "diff --git a/logo.png b/logo.png\nBinary files a/logo.png and b/logo.png differ\n"
    )


def test_a_long_line_in_an_edit_diff_is_cut() -> None:
    """A 3-byte edit of a 2 MB one-line file does not put 4 MB of diff in the event."""
    line = "var a=1;" * 250_000 + "END\n"
    edit = call("edit_file", file_path="min.js", old_string="END", new_string="FIN")
    diff = ends(run([edit, "ok"], {"min.js": line}))[0]["diff"]
    changed = [row for row in diff.splitlines() if row[:1] in "+-" and row[:3] not in "+++---"]
    assert [(row[:9], len(row), row.endswith("…")) for row in changed] == [
        ("-var a=1;", MAX_DIFF_LINE_CHARS + 2, True),
        ("+var a=1;", MAX_DIFF_LINE_CHARS + 2, True),
    ]
