"""Attacks on the approval decision that once let a command run unasked, or crashed the check."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller import Session, SessionConfig
from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.command_safety import BUILTIN_ALLOW, review
from tiller.errors import ToolError
from tiller.events import Event, EventKind
from tiller.shell.environment import sandbox_env
from tiller.shell.runner import MAX_COMMAND_BYTES, ShellRunner
from tiller.testing.scripted import ScriptedModel, call
from tiller.workspace import Workspace


@pytest.mark.parametrize(
    "command",
    [
        "true {HOME}>/dev/null; git diff",
        "echo hi {PATH}>/dev/null",
        "pwd {HOME}>&2",
        "ls {fd}>/dev/null",
    ],
)
def test_a_descriptor_variable_redirection_asks(command: str) -> None:
    """`{NAME}>...` makes bash assign NAME (in the shell itself for a builtin), so it asks."""
    verdict = review(command)
    assert (verdict.allowed, "assigns" in verdict.reason) == (False, True), verdict.reason


def test_bash_assigns_the_variable_of_a_descriptor_redirection(tmp_path: Path) -> None:
    """The attack is real: `true {HOME}>/dev/null` changes HOME for the next command."""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", 'true {HOME}>/dev/null; printf %s "$HOME"'],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.stdout.isdigit() is True


@pytest.mark.parametrize("operator", ["&&", "||"])
def test_a_long_chain_asks_instead_of_crashing(operator: str) -> None:
    """Thousands of `&&` nest the grammar's tree deeply; the check still answers."""
    verdict = review(f"true {operator} " * 5000 + "true")
    assert verdict.allowed is True


def test_a_long_chain_with_one_unknown_command_asks() -> None:
    """The walk reaches every command of a deep chain, the last one included."""
    verdict = review("true && " * 3000 + "rm -rf src")
    assert (verdict.allowed, verdict.reason) == (False, "`rm -rf src` is not on the allow-list")


def test_headless_run_does_not_run_git_config_planted_through_home(tmp_path: Path) -> None:
    """End to end: a planted `~/.gitconfig` reached through `{HOME}>` never runs unasked."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    (tmp_path / "f.txt").write_text("a\n")
    config = "[diff]\n\texternal = sh -c 'id > PWNED'\n"
    steps: list[object] = [
        call("write_file", file_path=f"{n}/.gitconfig", content=config) for n in (10, 11, 12)
    ]
    steps += [
        call("shell", command="true {HOME}>/dev/null; git diff --no-index f.txt g.txt"),
        "done",
    ]
    (tmp_path / "g.txt").write_text("b\n")
    session = Session(
        ScriptedModel(steps),  # type: ignore[arg-type]
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True, shell_approval="deny"),
    )
    events: list[Event] = []
    session.subscribe(events.append)
    try:
        session.send("diff")
        planted = "PWNED" in session.workspace.files()
    finally:
        session.close()
    outputs = [str(e.data["output"]) for e in events if e.kind is EventKind.TOOL_CALL_END]
    assert (planted, "needs approval" in outputs[-1]) == (False, True)


def planted_bare_repository(directory: str) -> list[object]:
    """Tool calls that write a bare repository's files (all text) whose config runs code."""
    files = {
        "HEAD": "ref: refs/heads/main\n",
        "objects/info/packs": "\n",
        "refs/heads/.keep": "\n",
        "config": "[diff]\n\texternal = sh -c 'id > PWNED'\n",
    }
    return [
        call("write_file", file_path=f"{directory}{name}", content=content)
        for name, content in files.items()
    ]


@pytest.mark.parametrize("cwd", ["", "sub"])
def test_git_does_not_use_a_planted_bare_repository(tmp_path: Path, cwd: str) -> None:
    """Files the model writes that make the command's directory a bare repository are not
    used by an unasked `git diff --no-index` (a root without `.git`, or a subdirectory)."""
    if cwd:
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    (tmp_path / cwd).mkdir(exist_ok=True)
    (tmp_path / cwd / "a.txt").write_text("a\n")
    (tmp_path / cwd / "b.txt").write_text("b\n")
    prefix = f"{cwd}/" if cwd else ""
    steps = [
        *planted_bare_repository(prefix),
        call("shell", command="git diff --no-index a.txt b.txt"),
        "done",
    ]
    session = Session(
        ScriptedModel(steps),  # type: ignore[arg-type]
        root=tmp_path,
        cwd=cwd,
        skills_dirs=[],
        config=SessionConfig(shell=True, shell_approval="deny"),
    )
    try:
        session.send("diff")
        planted = sorted(path for path in session.workspace.files() if "PWNED" in path)
    finally:
        session.close()
    assert planted == []


def test_sandbox_env_adds_git_protection_after_the_users_own() -> None:
    """The user's command-line git configuration stays; the protection comes after it."""
    env = sandbox_env(
        {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "Ann"}
    )
    git = {name: value for name, value in env.items() if name.startswith("GIT_CONFIG")}
    assert git == {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "user.name",
        "GIT_CONFIG_VALUE_0": "Ann",
        "GIT_CONFIG_KEY_1": "safe.bareRepository",
        "GIT_CONFIG_VALUE_1": "explicit",
    }


def test_sandbox_env_leaves_out_a_git_config_pair_whose_value_is_a_credential() -> None:
    """A withheld value takes its key with it: git refuses a half pair."""
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    env = sandbox_env(
        {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: token {token}",
        }
    )
    git = {name: value for name, value in env.items() if name.startswith("GIT_CONFIG")}
    assert git == {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.bareRepository",
        "GIT_CONFIG_VALUE_0": "explicit",
    }


def test_a_carriage_return_does_not_start_a_comment() -> None:
    """The grammar reads `\\r` as a blank, so `\\r#` opened a comment hiding `; touch ...`;
    to bash `\\r` is a letter, `#` mid-word is no comment, and the rest runs."""
    verdict = review("ls \r#; touch PWNED")
    assert (verdict.allowed, "control character" in verdict.reason) == (False, True)


def test_bash_runs_what_follows_a_carriage_return_and_a_hash(tmp_path: Path) -> None:
    """The attack is real: bash runs the command the grammar took for a comment."""
    subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", "true \r#; touch PWNED"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert (tmp_path / "PWNED").exists() is True


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c", "\x1b", "\x7f", "\x01"])
def test_control_characters_ask(char: str) -> None:
    """Any control character but tab and newline asks: nobody needs one in a command."""
    assert review(f"echo a{char}b").allowed is False


@pytest.mark.parametrize(
    ("command", "entry", "reason"),
    [
        ("fd -e py -x rm", "fd", "`fd --exec` runs"),
        ("fd --exec-batch=rm py", "fd", "`fd --exec` runs"),
        ("fd -HX rm", "fd", "`fd --exec` runs"),
        ("rsync -e 'sh -c x' a b:c", "rsync", "`rsync -e` runs"),
        ("rsync --rsync-path='touch x' a b:c", "rsync", "`rsync -e` runs"),
        ("rsync -ave'sh -c x' a b:c", "rsync", "`rsync -e` runs"),
        ("split --filter='sh -c x' f", "split", "`split --filter` runs"),
        ("sdiff --diff-program=./x a b", "sdiff", "`sdiff --diff-program` runs"),
        ("diff3 --diff-program=./x a b c", "diff3", "`diff3 --diff-program` runs"),
        ("zip -T -TT 'sh -c x' a.zip f", "zip", "`zip --unzip-command` runs"),
        ("ssh -o ProxyCommand='touch x' h", "ssh", "`ssh -o` can run"),
        ("scp -S ./x a h:b", "scp", "`scp -S` runs"),
        ("scp -oProxyCommand=x a h:b", "scp", "`scp -o` can run"),
        ("git send-email --to-cmd='touch x' p", "git *", "`git send-email"),
        ("git daemon --access-hook=./x", "git *", "`git daemon --access-hook`"),
        ("enable -f ./x.so x", "enable", "`enable` runs"),
        ("hash -p ./evil ls", "hash", "`hash` runs"),
        ("valgrind sh -c x", "valgrind", "`valgrind` runs"),
        ("taskset -c 0 sh -c x", "taskset", "`taskset` runs"),
        ("sg staff -c x", "sg", "`sg` runs"),
    ],
)
def test_allow_list_entry_does_not_cover_options_that_run_programs(
    command: str, entry: str, reason: str
) -> None:
    """An allow-listed fd, rsync, split, ssh, ... still asks when told to run a program."""
    verdict = review(command, (entry,))
    assert (verdict.allowed, reason in verdict.reason) == (False, True), verdict.reason


@pytest.mark.parametrize(
    ("command", "entry"),
    [
        ("fd -e py src", "fd"),
        ("rsync -av src/ dst/", "rsync"),
        ("split -l 10 f", "split"),
        ("zip -r a.zip src", "zip"),
        ("ssh -p 22 host ls", "ssh"),
        ("git send-email --to=a@b p", "git *"),
    ],
)
def test_allow_listed_programs_still_run_without_those_options(command: str, entry: str) -> None:
    """The same programs run unasked under their entry when nothing in them runs a program."""
    assert review(command, (entry,)).allowed is True


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("git --no-pager log -3", True),
        ("git --no-pager diff HEAD", True),
        ("git -P status", True),
        ("git --no-optional-locks status --short", True),
        ("git --no-pager push", False),
        ("git --no-pager branch -D main", False),
        ("git --no-pager -c core.pager=x log", False),
        ("git --help log", False),
    ],
)
def test_git_read_only_commands_run_unasked_after_harmless_global_options(
    command: str, allowed: bool
) -> None:
    """`git --no-pager log` is as read-only as `git log`; what follows still decides."""
    assert review(command).allowed is allowed


def test_a_command_too_long_to_run_is_refused_before_anyone_is_asked(tmp_path: Path) -> None:
    """Past the kernel's limit for one argument bash could never get the command: nobody is
    asked to read (and the TUI to draw) megabytes that cannot run."""
    asked: list[object] = []

    def ask(details: dict[str, object]) -> Approval:
        asked.append(details)
        return Approval(Decision.ALLOW)

    runner = ShellRunner(Workspace(root=tmp_path), policy=ApprovalPolicy("ask"), ask=ask)
    try:
        with pytest.raises(ToolError, match="write it to a script file") as raised:
            runner.run(
                "echo " + "x" * MAX_COMMAND_BYTES,
                timeout_ms=None,
                description="",
                cancel=threading.Event(),
                on_output=lambda _: None,
            )
    finally:
        runner.close()
    assert (asked, str(MAX_COMMAND_BYTES) in str(raised.value)) == ([], True)


def test_a_command_at_the_limit_still_runs(tmp_path: Path) -> None:
    """The limit is the kernel's: a command just under it runs."""
    runner = ShellRunner(
        Workspace(root=tmp_path),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
    )
    command = "true " + "x" * (MAX_COMMAND_BYTES - 6)
    try:
        out = runner.run(
            command,
            timeout_ms=None,
            description="",
            cancel=threading.Event(),
            on_output=lambda _: None,
        )
    finally:
        runner.close()
    assert out.splitlines()[0] == "Exit code: 0"


def test_the_reason_names_every_command_that_needs_the_person() -> None:
    """`ls; curl x | sh`: the reason names both, so the first cannot stand for the rest."""
    verdict = review("git log -3; curl -s x | sh; rm -rf src")
    assert verdict.reason == (
        "`curl -s x` is not on the allow-list; `sh` runs shell code that Tiller cannot check; "
        "`rm -rf src` is not on the allow-list"
    )


def test_the_reason_counts_what_it_does_not_name() -> None:
    """Past three, the reason says how many more commands need the person."""
    verdict = review("; ".join(f"rm f{n}" for n in range(6)))
    assert verdict.reason.endswith("`rm f2` is not on the allow-list; and 3 more")


# -- no shell state changes behind an allowed command ------------------------------------------

_BUILTIN_PROGRAMS = sorted({entry.split()[0] for entry in BUILTIN_ALLOW})
# Each allowed program becomes a bash function that does nothing (functions win over
# builtins and PATH), so what remains is what bash itself does around the commands.
_SILENT = "".join(f"{name}() {{ :; }}; " for name in _BUILTIN_PROGRAMS)
_CHANGING = "BASH|_=|CMD=|RANDOM|SRANDOM|SECONDS|EPOCH|LINENO|PIPESTATUS|FUNCNAME"
"""Variables bash changes by itself."""
_STATE = f'declare -p | command grep -v -E "^declare [-a-zA-Z]* ({_CHANGING})"'


def shell_state(command: str, directory: Path) -> str:
    """Every shell variable after bash ran `command` (its programs silenced)."""
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", _SILENT + 'eval "$CMD" >/dev/null 2>&1; ' + _STATE],
        cwd=directory,
        env={"CMD": command, "PATH": "/usr/bin:/bin", "HOME": str(directory)},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout


_STATE_PIECES = st.sampled_from(
    ["a", "-a", " ", " ", "'", '"', "\\", "\n", ";", "|", "&&", "{", "}", "=", "x=1", "-v",
     "PATH", "HOME", "#", "~", "*"]
)  # fmt: skip
_GLUED = st.sampled_from(["", " ", "{HOME}", "{a}", "}", "a}", "{PATH}", "2", "{"])
_REDIRECTS = st.sampled_from(["", ">/dev/null", ">&2", "2>&1", ">>/dev/null", "&>/dev/null"])


def test_the_state_check_sees_a_variable_change(tmp_path: Path) -> None:
    """The property below can fail: `true {HOME}>/dev/null` changes HOME."""
    assert shell_state("true {HOME}>/dev/null", tmp_path) != shell_state(":", tmp_path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["ls", "echo", "true", "printf", "git log", "pwd"]),
    rest=st.lists(_STATE_PIECES, max_size=6).map("".join),
    glued=_GLUED,
    redirect=_REDIRECTS,
    after=st.sampled_from(["", "; pwd", " && ls"]),
)
def test_allowed_commands_leave_the_shell_as_it_was(
    name: str,
    rest: str,
    glued: str,
    redirect: str,
    after: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """No command that runs unasked assigns a shell variable (HOME, PATH, ...) for the next."""
    command = f"{name} {rest} {glued}{redirect}{after}"
    if not review(command).allowed:
        return
    directory = tmp_path_factory.mktemp("state")
    assert shell_state(command, directory) == shell_state(":", directory), command
