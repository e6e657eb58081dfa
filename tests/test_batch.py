"""`tiller batch` on threads against the local server: results, patches, resume, limits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from batch_helpers import applies_cleanly, git, make_repo, read_lines, responder, write_tasks
from tiller.cli import app
from tiller.testing.processes import interruptible
from tiller.testing.server import FakeOpenAIServer, ServerReply

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ENV = {"OPENAI_API_KEY": "sk-test"}


def batch(server: FakeOpenAIServer, *args: str) -> Result:
    base = ["batch", "--model", "openai/fake-model", "--api-base", server.base_url]
    base += ["--transport", "openai", "--skills-dir", "/nonexistent-skills"]
    return CliRunner().invoke(app, [*base, *args], env=ENV)


@pytest.fixture
def server() -> FakeOpenAIServer:
    with FakeOpenAIServer(responder=responder) as running:
        yield running


def twenty_tasks(tmp_path: Path) -> tuple[Path, list[Path]]:
    repos = [make_repo(tmp_path / f"repo{i}", text=f"repo {i}\n") for i in range(4)]
    tasks = [
        {"id": f"t{n}", "repo": str(repos[n % 4]), "prompt": f"please do task {n}"}
        for n in range(20)
    ]
    return write_tasks(tmp_path / "tasks.jsonl", tasks), repos


def test_twenty_tasks_on_threads_give_patches_that_apply(server, tmp_path: Path) -> None:
    """20 tasks over 4 repos: 20 completed lines whose patches `git apply` on fresh clones."""
    tasks, repos = twenty_tasks(tmp_path)
    out = tmp_path / "results.jsonl"
    result = batch(server, str(tasks), "--out", str(out), "--workers", "6", "--json")
    lines = read_lines(out)
    applied = [
        applies_cleanly(repos[int(line["id"][1:]) % 4], line["patch"], tmp_path / f"c{line['id']}")
        for line in lines
    ]
    assert (
        result.exit_code,
        sorted(line["id"] for line in lines),
        {line["status"] for line in lines},
        all(applied),
        {tuple(line["files_changed"][0]) for line in lines if line["id"] == "t7"},
    ) == (0, sorted(f"t{n}" for n in range(20)), {"completed"}, True, {("out-7.txt", "added")})


def test_the_repo_on_disk_is_untouched(server, tmp_path: Path) -> None:
    """A local repo is only overlaid: the task's file exists in the patch, not on disk."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    out = tmp_path / "r.jsonl"
    batch(server, str(tasks), "--out", str(out))
    assert ("+a" in read_lines(out)[0]["patch"], (repo / "out-a.txt").exists()) == (True, False)


def test_result_line_names_a_journal_session(server, tmp_path: Path) -> None:
    """The session id in a result opens with `tiller sessions show`."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    out = tmp_path / "r.jsonl"
    batch(server, str(tasks), "--out", str(out))
    shown = CliRunner().invoke(app, ["sessions", "show", read_lines(out)[0]["session_id"]])
    assert (shown.exit_code, "task a" in shown.output) == (0, True)


def test_resume_skips_ids_already_in_out(server, tmp_path: Path) -> None:
    """A second run over the same --out starts no task again."""
    tasks, _ = twenty_tasks(tmp_path)
    out = tmp_path / "results.jsonl"
    batch(server, str(tasks), "--out", str(out), "--workers", "4")
    before = len(server.requests)
    again = batch(server, str(tasks), "--out", str(out), "--workers", "4")
    assert (again.exit_code, len(server.requests) - before, len(read_lines(out))) == (0, 0, 20)


def test_a_killed_batch_resumes_with_only_the_rest(tmp_path: Path) -> None:
    """Killed (SIGKILL) after 10 of 20 tasks, the rerun does exactly the other 10."""
    gate = threading.Event()
    served: list[str] = []

    def hold_the_eleventh(body: dict) -> ServerReply:
        reply = responder(body)
        if reply.tool_calls:
            served.append(body["messages"][-1]["content"])
            if len(served) == 11:
                return ServerReply(tool_calls=reply.tool_calls, gate=gate)
        return reply

    tasks, _ = twenty_tasks(tmp_path)
    out = tmp_path / "results.jsonl"
    with FakeOpenAIServer(responder=hold_the_eleventh) as srv:
        argv = [str(Path(sys.executable).parent / "tiller"), "batch", str(tasks), "--out", str(out)]
        argv += ["--workers", "1", "--json", "--model", "openai/fake-model"]
        argv += ["--api-base", srv.base_url, "--transport", "openai"]
        argv += ["--skills-dir", "/nonexistent-skills"]
        proc = subprocess.Popen(
            argv, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, start_new_session=True
        )
        try:
            held = srv.held(timeout=60)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            gate.set()
        first = [line["id"] for line in read_lines(out)]
        served.clear()
        srv.responder = responder
        before = len(srv.requests)
        rerun = batch(srv, str(tasks), "--out", str(out), "--workers", "3")
        new = srv.requests[before:]
        started_again = len([r for r in new if r.body["messages"][-1]["role"] == "user"])
    ids = [line["id"] for line in read_lines(out)]
    assert (held, len(first), rerun.exit_code, started_again, sorted(ids)) == (
        True,
        10,
        0,
        10,
        sorted(f"t{n}" for n in range(20)),
    )


def test_a_malformed_tasks_file_names_its_lines_and_runs_nothing(server, tmp_path: Path) -> None:
    """Bad lines are listed with their numbers, exit 2, and no task starts."""
    repo = make_repo(tmp_path / "repo")
    tasks = tmp_path / "t.jsonl"
    good = json.dumps({"id": "a", "repo": str(repo), "prompt": "task a"})
    tasks.write_text(
        good + "\n"
        "{not json\n"
        "\n"
        + json.dumps({"id": "b", "prompt": "x"})
        + "\n"
        + json.dumps({"id": "a", "repo": str(repo), "prompt": "task a"})
        + "\n"
        + json.dumps({"id": "c", "repo": str(repo), "prompt": "p", "max_turns": "3"})
        + "\n"
    )
    out = tmp_path / "r.jsonl"
    result = batch(server, str(tasks), "--out", str(out))
    assert (result.exit_code, result.output.splitlines()[1:], out.exists(), server.requests) == (
        2,
        [
            "line 2: not JSON (Expecting property name enclosed in double quotes)",
            "line 4: missing 'repo'",
            "line 5: id 'a' already used on line 1",
            "line 6: 'max_turns' must be int",
        ],
        False,
        [],
    )


def test_a_missing_repo_is_an_error_line_and_the_rest_run(server, tmp_path: Path) -> None:
    """A task whose repo does not exist fails alone; the batch exits 1."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": "gone", "repo": str(tmp_path / "nope"), "prompt": "task gone"},
            {"id": "ok", "repo": str(repo), "prompt": "task ok"},
        ],
    )
    out = tmp_path / "r.jsonl"
    result = batch(server, str(tasks), "--out", str(out))
    by_id = {line["id"]: line for line in read_lines(out)}
    assert (
        result.exit_code,
        by_id["gone"]["status"],
        by_id["gone"]["error"],
        by_id["ok"]["status"],
    ) == (
        1,
        "error",
        f"repo not found: {tmp_path / 'nope'} is not a directory",
        "completed",
    )


def test_a_git_url_task_is_cloned_at_its_commit_and_removed(server, tmp_path: Path) -> None:
    """A bare repo given as a file:// URL is cloned at `commit`; the clone is gone after."""
    work = make_repo(tmp_path / "work", text="one\n")
    first = git("rev-parse", "HEAD", cwd=work).strip()
    (work / "README").write_text("two\n")
    git("commit", "--quiet", "-am", "two", cwd=work)
    bare = tmp_path / "bare.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    url = bare.as_uri()
    tasks = write_tasks(
        tmp_path / "t.jsonl", [{"id": "u", "repo": url, "commit": first, "prompt": "task u"}]
    )
    out = tmp_path / "r.jsonl"
    result = batch(server, str(tasks), "--out", str(out))
    prompt_env = server.requests[0].body["messages"][0]["content"]
    left = sorted(p.name for p in Path(os.environ["TMPDIR"]).glob("tiller-batch-*"))
    line = read_lines(out)[0]
    assert (result.exit_code, line["status"], "out-u.txt" in line["patch"], left) == (
        0,
        "completed",
        True,
        [],
    ), prompt_env


def test_max_cost_stops_scheduling_new_tasks(tmp_path: Path) -> None:
    """Once finished tasks cost --max-cost, no further task starts (one worker: one task)."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [{"id": f"m{n}", "repo": str(repo), "prompt": f"task m{n}"} for n in range(5)],
    )
    out = tmp_path / "r.jsonl"

    def priced(body: dict) -> ServerReply:
        reply = responder(body)
        reply.cost = 0.01
        return reply

    with FakeOpenAIServer(responder=priced) as srv:
        result = batch(
            srv, str(tasks), "--out", str(out), "--workers", "1", "--max-cost", "0.015", "--json"
        )
    events = [json.loads(line)["event"] for line in result.output.splitlines()]
    lines = read_lines(out)
    assert (result.exit_code, [line["usage"]["cost_usd"] for line in lines], events) == (
        1,
        [0.02],
        ["batch_start", "task_start", "task_end", "max_cost_reached", "batch_end"],
    )


def test_a_rate_limit_backs_off_without_failing_the_task(tmp_path: Path) -> None:
    """Two 429s (Retry-After 0) before the reply: the task still completes."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "r", "repo": str(repo), "prompt": "task r"}])
    limited = ServerReply(status=429, error_message="slow down", headers={"Retry-After": "0"})
    out = tmp_path / "r.jsonl"
    with FakeOpenAIServer([limited, limited]) as srv:
        srv.responder = None
        first = responder({"messages": [{"role": "user", "content": "task r"}]})
        srv.add(first, ServerReply(text="Done."))
        result = batch(srv, str(tasks), "--out", str(out))
    assert (result.exit_code, read_lines(out)[0]["status"]) == (0, "completed")


def test_report_gives_pass_rate_cost_durations_and_errors(tmp_path: Path) -> None:
    """`batch report --json` over a results file with a resumed (twice-written) id."""
    out = tmp_path / "r.jsonl"
    rows = [
        {"id": "a", "status": "cancelled", "duration_s": 9.0, "error": "cancelled", "usage": {}},
        {"id": "a", "status": "completed", "duration_s": 1.0, "usage": {"cost_usd": 0.25}},
        {"id": "b", "status": "completed", "duration_s": 3.0, "usage": {"cost_usd": 0.5}},
        {"id": "c", "status": "error", "duration_s": 5.0, "error": "boom\nmore", "usage": {}},
        {"id": "d", "status": "error", "duration_s": 7.0, "error": "boom", "usage": {}},
    ]
    out.write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"id": "torn')
    result = CliRunner().invoke(app, ["batch", "report", str(out), "--json"])
    report = json.loads(result.output)
    keys = ("tasks", "pass_rate", "cost_usd", "p50_s", "p95_s", "top_errors")
    assert [report[key] for key in keys] == [4, 0.5, 0.75, 4.0, 6.7, [["boom", 2]]]


def test_setup_runs_in_the_sandbox_before_the_agent(server, tmp_path: Path) -> None:
    """`setup` runs first in the shell sandbox; what it writes is in the workspace and patch."""
    repo = make_repo(tmp_path / "repo")
    task = {"id": "s", "repo": str(repo), "prompt": "task s", "setup": "echo built > built.txt"}
    tasks = write_tasks(tmp_path / "t.jsonl", [task])
    out = tmp_path / "r.jsonl"
    result = batch(server, str(tasks), "--out", str(out))
    line = read_lines(out)[0]
    assert (result.exit_code, sorted(path for path, _ in line["files_changed"])) == (
        0,
        ["built.txt", "out-s.txt"],
    )


def test_a_failing_setup_fails_the_task_before_any_model_call(server, tmp_path: Path) -> None:
    """A setup that exits non-zero is an error result with its exit code; no request is made."""
    repo = make_repo(tmp_path / "repo")
    task = {"id": "f", "repo": str(repo), "prompt": "task f", "setup": "echo nope; exit 3"}
    tasks = write_tasks(tmp_path / "t.jsonl", [task])
    out = tmp_path / "r.jsonl"
    batch(server, str(tasks), "--out", str(out))
    line = read_lines(out)[0]
    error_lines = line["error"].splitlines()
    assert (line["status"], error_lines[:2], "nope" in line["error"], server.requests) == (
        "error",
        ["setup failed:", "Exit code: 3"],
        True,
        [],
    )


def test_without_json_a_summary_table_is_printed(server, tmp_path: Path) -> None:
    """The human run ends with a summary table: tasks, pass rate, cost."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    result = batch(server, str(tasks), "--out", str(tmp_path / "r.jsonl"))
    table = {" ".join(line.strip("│ ").split()) for line in result.output.splitlines()}
    assert {"tasks run │ 1", "pass rate │ 100%", "completed │ 1"} <= table


def test_ctrl_c_on_threads_cancels_and_a_rerun_finishes(tmp_path: Path) -> None:
    """SIGINT while a task waits on the model: exit 130, a `cancelled` line; the rerun does it."""
    gate = threading.Event()
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "c", "repo": str(repo), "prompt": "task c"}])
    out = tmp_path / "r.jsonl"
    with FakeOpenAIServer([ServerReply(text="never", gate=gate)], responder=None) as srv:
        argv = [str(Path(sys.executable).parent / "tiller"), "batch", str(tasks), "--out", str(out)]
        argv += ["--model", "openai/fake-model", "--api-base", srv.base_url, "--json"]
        argv += ["--transport", "openai", "--skills-dir", "/nonexistent-skills"]
        env = {**os.environ, **ENV}
        proc = subprocess.Popen(interruptible(argv), env=env, stdout=subprocess.DEVNULL)
        try:
            held = srv.held(timeout=60)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            gate.set()
        first = [line["status"] for line in read_lines(out)]
        srv.responder = responder
        rerun = batch(srv, str(tasks), "--out", str(out))
    assert (held, code, first, rerun.exit_code, read_lines(out)[-1]["status"]) == (
        True,
        130,
        ["cancelled"],
        0,
        "completed",
    )


def test_an_unwritable_out_is_a_usage_error_before_any_task(server, tmp_path: Path) -> None:
    """--out in a missing directory: exit 2 and no request reaches the model."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    result = batch(server, str(tasks), "--out", str(tmp_path / "no" / "r.jsonl"))
    assert (result.exit_code, server.requests) == (2, [])


def test_options_before_batch_reach_the_run(server, tmp_path: Path) -> None:
    """`tiller --model M --api-base U batch ...` runs the tasks with M at U."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    out = tmp_path / "r.jsonl"
    argv = ["--model", "openai/other-model", "--api-base", server.base_url, "--transport", "openai"]
    argv += ["batch", str(tasks), "--out", str(out), "--skills-dir", "/nonexistent-skills"]
    result = CliRunner().invoke(app, argv, env=ENV)
    assert (result.exit_code, read_lines(out)[0]["model"]) == (0, "openai/other-model")


def test_out_naming_the_tasks_file_is_refused_and_the_file_kept(server, tmp_path: Path) -> None:
    """--out pointing at TASKS.jsonl (here through a symlink): exit 2, the tasks file unchanged."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    before = tasks.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(tasks)
    result = batch(server, str(tasks), "--out", str(tmp_path / "link.jsonl"))
    assert (result.exit_code, result.stderr, tasks.read_bytes(), server.requests) == (
        2,
        f"tiller: --out {tmp_path / 'link.jsonl'} is the tasks file; "
        "give the results a file of their own\n",
        before,
        [],
    )


def test_out_that_is_not_a_results_file_is_refused_untouched(server, tmp_path: Path) -> None:
    """--out naming some other JSON-lines file: exit 2 naming the line, nothing appended."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    other = tmp_path / "events.jsonl"
    other.write_bytes(b'{"event": "x"}')
    result = batch(server, str(tasks), "--out", str(other))
    assert (result.exit_code, result.stderr, other.read_bytes(), server.requests) == (
        2,
        f"tiller: {other} line 1 is not a result line; is it the results file of a batch?\n",
        b'{"event": "x"}',
        [],
    )


def test_a_tasks_path_that_is_a_directory_is_a_usage_error(server, tmp_path: Path) -> None:
    """TASKS.jsonl naming a directory: one line, exit 2, no traceback."""
    result = batch(server, str(tmp_path), "--out", str(tmp_path / "r.jsonl"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"tiller: cannot read tasks file {tmp_path}: Is a directory\n",
    )


def test_report_on_a_file_that_is_not_a_results_file_is_a_usage_error(tmp_path: Path) -> None:
    """`batch report` of a tasks file says so in one line."""
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": ".", "prompt": "p"}])
    result = CliRunner().invoke(app, ["batch", "report", str(tasks)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"tiller: {tasks} line 1 is not a result line; is it the results file of a batch?\n",
    )


def test_a_token_the_model_repeats_is_redacted_in_the_result_line(tmp_path: Path) -> None:
    """The answer in RESULTS.jsonl is redacted as the journal redacts it."""
    token = "AKIA" + "ABCDEFGHIJKLMNOP"
    repo = make_repo(tmp_path / "repo", text=f"aws = '{token}'\n")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "s", "repo": str(repo), "prompt": "p"}])
    out = tmp_path / "r.jsonl"
    read = ServerReply(tool_calls=[("read_file", json.dumps({"file_path": "README"}))])
    with FakeOpenAIServer([read, ServerReply(text=f"The key is {token} here.")]) as srv:
        result = batch(srv, str(tasks), "--out", str(out))
    assert (result.exit_code, token in out.read_text(), read_lines(out)[0]["answer"]) == (
        0,
        False,
        "The key is [redacted] here.",
    )


def test_sigterm_cancels_like_ctrl_c_and_writes_the_running_tasks_lines(tmp_path: Path) -> None:
    """SIGTERM while a task waits on the model: exit 143 and a `cancelled` line a resume reruns."""
    gate = threading.Event()
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "c", "repo": str(repo), "prompt": "task c"}])
    out = tmp_path / "r.jsonl"
    with FakeOpenAIServer([ServerReply(text="never", gate=gate)], responder=None) as srv:
        argv = [str(Path(sys.executable).parent / "tiller"), "batch", str(tasks), "--out", str(out)]
        argv += ["--model", "openai/fake-model", "--api-base", srv.base_url, "--json"]
        argv += ["--transport", "openai", "--skills-dir", "/nonexistent-skills"]
        proc = subprocess.Popen(argv, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL)
        try:
            held = srv.held(timeout=60)
            proc.terminate()
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            gate.set()
    assert (held, code, [line["status"] for line in read_lines(out)]) == (True, 143, ["cancelled"])


def test_a_data_dir_that_cannot_hold_journals_stops_the_batch_first(server, tmp_path: Path) -> None:
    """Every task would fail (and a resume skip them all): exit 2 before any task."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    (tmp_path / "file").write_text("")
    sessions = tmp_path / "file" / "data" / "sessions"
    base = ["batch", "--model", "openai/fake-model", "--api-base", server.base_url]
    base += ["--transport", "openai", "--skills-dir", "/nonexistent-skills"]
    base += [str(tasks), "--out", str(tmp_path / "r.jsonl")]
    env = {**ENV, "TILLER_DATA_DIR": str(tmp_path / "file" / "data")}
    result = CliRunner().invoke(app, base, env=env)
    assert (result.exit_code, result.stderr, server.requests) == (
        2,
        f"tiller: cannot keep the tasks' journals in {sessions}: Not a directory; "
        "set TILLER_DATA_DIR to a directory Tiller can write\n",
        [],
    )


def test_out_that_is_a_pipe_is_refused_instead_of_hanging(server, tmp_path: Path) -> None:
    """--out naming a FIFO (as /dev/stdout into a pipe is): exit 2 at once, no endless read."""
    repo = make_repo(tmp_path / "repo")
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": "a", "repo": str(repo), "prompt": "task a"}])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = batch(server, str(tasks), "--out", str(fifo))
    assert (result.exit_code, result.stderr, server.requests) == (
        2,
        f"tiller: --out {fifo} is not a regular file; results are appended to a file "
        "and read back on resume\n",
        [],
    )
