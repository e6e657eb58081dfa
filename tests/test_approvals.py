"""Approvals decided on the parsed command: what runs unasked, what asks, and why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiller import Session, SessionConfig
from tiller.approvals import ApprovalPolicy, allowed_by_list
from tiller.command_safety import BUILTIN_ALLOW, entry_matches, review
from tiller.events import Event, EventKind
from tiller.shell_grammar import parse_command
from tiller.testing.scripted import ScriptedModel, Step, call

# The README's old example (every bypass below once passed it), and an interpreter entry.
OLD_EXAMPLE = ("pytest", "git *", "python -m pytest")

ALLOWED = ""

TABLE: list[tuple[str, str]] = [
    # -- read-only commands, built in ------------------------------------------------
    ("ls", ALLOWED),
    ("ls -la src", ALLOWED),
    ("cat README.md", ALLOWED),
    ("head -n 20 src/calc.py", ALLOWED),
    ("tail -5 log.txt", ALLOWED),
    ("wc -l src/calc.py", ALLOWED),
    ("pwd", ALLOWED),
    ("echo hello world", ALLOWED),
    ("grep -rn 'def add' src", ALLOWED),
    ("grep -r --include=*.py foo .", ALLOWED),
    ("rg -n TODO", ALLOWED),
    ("find . -name '*.py' -type f", ALLOWED),
    ("git status", ALLOWED),
    ("git diff HEAD~1 -- src", ALLOWED),
    ("git log --oneline -5", ALLOWED),
    ("git --no-pager log -3", ALLOWED),
    ("git show HEAD@{1}", ALLOWED),
    ("git branch -a -v", ALLOWED),
    ("sed -n 10,20p src/calc.py", ALLOWED),
    ("ls src/*.py", ALLOWED),
    # -- plain structure around allowed commands ---------------------------------------
    ("git log --oneline | head -5", ALLOWED),
    ("ls && pwd", ALLOWED),
    ("ls; pwd", ALLOWED),
    ("ls || echo none", ALLOWED),
    ("ls\npwd", ALLOWED),
    ("ls \\\n  -la", ALLOWED),
    ("ls # list the files", ALLOWED),
    ("ls 2>&1", ALLOWED),
    ("ls missing 2>/dev/null", ALLOWED),
    ("git status >/dev/null 2>&1", ALLOWED),
    ("'git' status", ALLOWED),
    ('l"s" -la', ALLOWED),
    # -- the user's entries, matched on words --------------------------------------------
    ("pytest -q tests/", ALLOWED),
    ("git commit -m 'wip'", ALLOWED),
    ("pytestx", "`pytestx` is not on the allow-list"),
    # -- the bypasses ------------------------------------------------------------
    ("git -c alias.x='!touch PWNED' x", "`git -c` sets configuration"),
    ("git -calias.x=!touch x", "`git -c` sets configuration"),
    ("git --version > FILE", "redirects output to a file (`> FILE`)"),
    ("pytest > ~/.bashrc", "redirects output to a file (`> ~/.bashrc`)"),
    ("git status >> notes.txt", "redirects output to a file"),
    ("echo $(touch PWNED)", "command substitution"),
    ('echo "$(touch PWNED)"', "command substitution"),
    ("echo `touch PWNED`", "command substitution"),
    ("diff <(ls) <(ls src)", "process substitution"),
    ("ls; rm -rf /", "`rm -rf /` is not on the allow-list"),
    ("ls && curl x | sh", "`curl x` is not on the allow-list"),
    ("find . -exec rm {} \\;", "`find -exec` runs a command"),
    ("find . -execdir rm {} +", "`find -execdir` runs a command"),
    ("find . -name x -delete", "`find -delete` deletes files"),
    ("find . -fprint out.txt", "`find -fprint` writes a file"),
    ("ls | xargs rm", "`xargs` runs other commands"),
    ("env rm -rf src", "`env` runs other commands"),
    ("sudo ls", "`sudo` runs other commands"),
    ("bash -c 'rm -rf src'", "`bash` runs shell code"),
    ("sh -c ls", "`sh` runs shell code"),
    ("cat x | sh", "`sh` runs shell code"),
    ("python -c 'import os'", "`python -c` runs code given on the command line"),
    ("python3 -Bc 'import os'", "`python3 -c` runs code"),
    ("perl -ne 'print'", "`perl -e` runs code"),
    ("python -W ignore -c 'import os'", "`python -c` runs code"),
    ("node --eval 'x'", "`node --eval` runs code"),
    ("python -m pytest -p no:cacheprovider", "ALLOWED-WITH-PYTHON-ENTRY"),
    ("ls\nrm -rf src", "`rm -rf src` is not on the allow-list"),
    ("ls \\\n; rm x", "`rm x` is not on the allow-list"),
    ("ls\\ -la", "`ls -la` is not on the allow-list"),
    ("find . -exe\\\nc rm {} +", "joins words without a blank"),
    ("fi\\\nnd . -delete", "joins words without a blank"),
    ("ls ~/.ssh", "expands `~`"),
    ("ls {\\a", "joins words without a blank"),
    ("ls { {", "cannot split reliably"),
    ("ls \\ -la", "skipped"),
    ("ls \\ #", "skipped"),
    ("ls a\\\n#", "joins words without a blank"),
    ("\u217cs", "non-ASCII"),  # a Roman numeral fifty that looks like `l`
    ("g\u0456t status", "non-ASCII"),  # a Cyrillic `і`
    ("FOO=1 ls", "sets a variable for the command (`FOO=1`)"),
    ("PAGER='touch PWNED' git log", "sets a variable for the command"),
    ("X=1", "assigns a shell variable"),
    ("cat <<EOF\nrm -rf src\nEOF", "here-document"),
    ("cat <<< hi", "here-string"),
    ("cat < secrets.txt", "reads input through a redirection"),
    ("exec ls", "`exec` runs other commands"),
    ("eval ls", "`eval` runs other commands"),
    ("source env.sh", "`source` runs other commands"),
    (". ./env.sh", "`.` runs other commands"),
    ("(ls)", "subshell"),
    ("{ ls; }", "command group"),
    ("ls &", "background"),
    ("ls & rm x", "background"),
    ("git status; rm x", "`rm x` is not on the allow-list"),
    ("ls *", "wildcard at the start of a word"),
    ("rg foo -*", "wildcard at the start of a word"),
    ("l? -la", "wildcard in the command name"),
    ("echo -{exec,delete}", "brace expansion"),
    ("$CMD status", "expands a variable"),
    ("echo ${HOME}", "expands a variable"),
    ("echo $((1 + 2))", "arithmetic expansion"),
    ("echo $'\\x41'", "ANSI-C quoting"),
    ("! ls", "negates a command"),
    ("[ -f x ]", "shell test"),
    ("if ls; then rm x; fi", "control flow"),
    ("for f in a; do rm $f; done", "loop"),
    ("f() { rm x; }; f", "function"),
    ("ls;;", "`;;`"),
    ("ls (", "does not parse"),
    ("# only a comment", "nothing to run"),
    ("time ls", "`time` runs other commands"),
    ("ls \ud800", "not valid text"),
    ("ls\x00rm", "NUL"),
    ("nohup ls", "`nohup` runs other commands"),
    # -- options that run code or write, refused even when an entry matches ---------------
    ("git --exec-path=/tmp status", "`git --exec-path`"),
    ("git -C ../other status", "`git -C`"),
    ("git --git-dir=/tmp/x log", "`git --git-dir`"),
    ("git --work-tree=.. status", "`git --work-tree`"),
    ("git --paginate log", "the git option `--paginate`"),
    ("git fetch --upload-pack='touch PWNED' origin", "`--upload-pack` runs"),
    ("git ls-remote --upload-pack=x origin", "`--upload-pack` runs"),
    ("git clone --config core.sshCommand=x repo", "`git clone --config`"),
    ("git clone -u 'touch PWNED' repo", "`git clone -u`"),
    ("git log -o core.pager=x", "sets git configuration (`core.*`)"),
    ("git diff --output=x", "`git diff --output` writes a file"),
    ("git log --output=x", "`git log --output` writes a file"),
    ("git diff --ext-diff", "runs an external diff program"),
    ("git rebase -x 'touch PWNED' HEAD~1", "`git rebase -x`"),
    ("git rebase --exec='touch PWNED' HEAD~1", "`git rebase --exec`"),
    ("git grep -O'touch PWNED' foo", "`git grep -O`"),
    ("git submodule foreach 'touch PWNED'", "`git submodule foreach`"),
    ("git bisect run 'touch PWNED'", "`git bisect run`"),
    ("git filter-branch --tree-filter x", "`git filter-branch`"),
    ("rg --pre ./evil foo", "`rg --pre` runs a program"),
    ("rg --pre=./evil foo", "`rg --pre` runs a program"),
    ("rg -z foo", "`rg --search-zip`"),
    ("sed -i s/a/b/ x", "`sed -i` edits files in place"),
    ("sed -n -i 1p x", "`sed -i`"),
    ("sed -ni 1p x", "`sed -i`"),
    ("sed -n 's/x/y/e' f", "`s///e`"),
    ("sort -o out.txt in.txt", "`sort -o` writes a file"),
    ("sort --output=out.txt in.txt", "`sort -o` writes a file"),
    ("sort --compress-program=./evil x", "`sort --compress-program`"),
    ("sort --out=out.txt in.txt", "`sort -o` writes a file"),
    ("sort -uoout.txt in.txt", "`sort -o` writes a file"),
    ("sed -ni.bak 1p f", "`sed -i`"),
    ("git grep -nO'touch PWNED' foo", "`git grep -O`"),
    ("git log --outp=x", "`git log --output` writes a file"),
    ("sed --in-pl s/a/b/ f", "`sed -i`"),
    ("rg --pr=./evil foo", "`rg --pre`"),
    ("printf -v 'a[$(touch PWNED)]' x", "`printf -v` assigns"),
    ("printf -v PATH . ; ls", "`printf -v` assigns"),
    ("printf -vPATH .", "`printf -v` assigns"),
    ("printf -- -v x", ALLOWED),
    # -- read-only commands that stop being read-only ---------------------------------------
    ("git branch -D main", "ALLOWED-BY-OLD-EXAMPLE"),
    ("git push origin main", "ALLOWED-BY-OLD-EXAMPLE"),
    ("rm -rf src", "`rm -rf src` is not on the allow-list"),
    ("./ls", "`./ls` is not on the allow-list"),
    ("/bin/rm x", "`/bin/rm x` is not on the allow-list"),
    ("npm test", "`npm test` is not on the allow-list"),
]


@pytest.mark.parametrize(("command", "expected"), TABLE)
def test_table(command: str, expected: str) -> None:
    """With the old README allow-list: allowed commands pass, the rest ask with a reason."""
    verdict = review(command, OLD_EXAMPLE)
    if expected in (ALLOWED, "ALLOWED-BY-OLD-EXAMPLE", "ALLOWED-WITH-PYTHON-ENTRY"):
        assert (verdict.allowed, verdict.reason) == (True, "")
    else:
        assert (verdict.allowed, expected in verdict.reason) == (False, True), verdict.reason


def test_the_table_is_large_and_mostly_refusals() -> None:
    """At least 60 commands, most of them attempts that must ask."""
    asked = [command for command, expected in TABLE if expected and "ALLOWED" not in expected]
    assert (len(TABLE) >= 60, len(asked) >= 60) == (True, True)


@pytest.mark.parametrize(
    "command",
    [
        "git commit -m x",
        "git push",
        "pytest",
        "touch x",
        "npm test",
        "git branch x",
        "git branch -D main",
        "sed -n 's/x/y/e' f",
        "make",
    ],
)
def test_commands_outside_the_builtin_list_ask_without_entries(command: str) -> None:
    """With an empty allow-list only the built-in read-only commands run unasked."""
    assert review(command).allowed is False


def test_builtin_list_can_be_turned_off() -> None:
    """`builtin=False` leaves only the user's entries."""
    assert review("ls", (), builtin=False).allowed is False


@pytest.mark.parametrize(
    ("entry", "argv", "expected"),
    [
        ("pytest", ("pytest", "-q"), True),
        ("pytest", ("pytestx",), False),
        ("git *", ("git", "status"), True),
        ("git *", ("git",), False),
        ("git st*", ("git", "status", "-s"), True),
        ("git st*", ("git", "show"), False),
        ("npm test", ("npm", "test", "--", "-x"), True),
        ("npm test", ("npm", "install"), False),
        ("'ruff check'", ("ruff check",), True),
        ("ruff check", ("ruff", "check", "."), True),
    ],
)
def test_entries_match_words_as_a_prefix(entry: str, argv: tuple[str, ...], expected: bool) -> None:
    """Entries are words: equal, or a one-word wildcard; the command may add arguments."""
    assert entry_matches(entry, argv) is expected


def test_a_wildcard_entry_never_matches_across_words() -> None:
    """`git s*` does not reach past `git s` into the words after it."""
    assert entry_matches("git s*", ("git", "-c", "s=1", "status")) is False


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("'git' status", ("git", "status")),
        ('git log --format="%h %s"', ("git", "log", "--format=%h %s")),
        ('echo "a\\"b" c\\ d', ("echo", 'a"b', "c d")),
        ("echo 'it''s'", ("echo", "its")),
        ("ls \\\n -la", ("ls", "-la")),
        ("echo '-'exec", ("echo", "-exec")),
    ],
)
def test_words_are_resolved_as_bash_would(command: str, argv: tuple[str, ...]) -> None:
    """Quotes and escapes are resolved before matching."""
    (parsed,) = parse_command(command).commands
    assert parsed.argv == argv


def test_quoted_option_is_still_the_option() -> None:
    """`'-'exec` is `-exec` to find, so quoting cannot hide it."""
    assert "`find -exec`" in review("find . '-'exec rm {} +").reason


def test_allowed_by_list_uses_only_the_given_entries() -> None:
    """The allow-list helper ignores the built-in list."""
    assert (allowed_by_list("ls", ()), allowed_by_list("ls", ("ls",))) == (False, True)


def test_policy_remembers_the_exact_text_only() -> None:
    """A command allowed for the session runs again unasked; a variant of it still asks."""
    policy = ApprovalPolicy("ask")
    policy.remember("touch a")
    assert (policy.preapproved("touch a"), policy.preapproved("touch  a")) == (True, False)


def test_policy_review_says_why() -> None:
    """The policy's verdict carries the reason the person and the model read."""
    verdict = ApprovalPolicy("deny", ("git *",)).review("git -c x=y status")
    assert (verdict.allowed, verdict.reason.startswith("`git -c`")) == (False, True)


def test_allow_mode_allows_everything() -> None:
    """`--yes` skips the checks."""
    assert ApprovalPolicy("allow").preapproved("rm -rf / > x") is True


# -- the parse agrees with bash ---------------------------------------------------------------

_PROGRAMS = sorted({entry.split()[0] for entry in BUILTIN_ALLOW})
# Each allowed program becomes a bash function (functions win over builtins and PATH)
# that records its words, so running an allowed command shows what bash would pass.
_RECORDERS = "".join(
    f'{name}() {{ builtin printf -v r "%s\\037" {name} "$@"; '
    'builtin printf "%s\\036" "$r" >> "$OUT"; }; '
    for name in _PROGRAMS
)


def bash_argvs(command: str, directory: Path) -> tuple[list[tuple[str, ...]], str]:
    """The words each simple command of `command` received from bash (sorted), and stderr."""
    out = directory / "argv"
    out.write_bytes(b"")
    empty = directory / "cwd"  # no file names for a wildcard to match
    empty.mkdir()
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", _RECORDERS + 'eval "$CMD"'],
        cwd=empty,
        env={"OUT": str(out), "CMD": command, "PATH": "/usr/bin:/bin", "HOME": str(directory)},
        capture_output=True,
        timeout=10,
        check=False,
    )
    records = out.read_text(encoding="utf-8").split("\x1e")[:-1]
    argvs = sorted(tuple(record.split("\x1f")[:-1]) for record in records)
    return argvs, done.stderr.decode("utf-8", errors="replace")


# Letters that spell no real program: whatever a wrong verdict let through stays harmless.
_PIECES = st.sampled_from(
    ["a", "b", "-a", "--b=", " ", " ", "'", '"', "\\", "\\\n", "\n", ";", "|", "&&", "$", "`",
     "(", ")", "{", "}", "*", "?", "[", "]", "#", "~", "=", ">", "<", "2>&1", ">/dev/null",
     "a,b", "..", "!", "%", "^", "-exec", "-delete", "--pre", "\t", "5p", "-i", "-c", "x=1"]
)  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["ls", "echo", "cat", "git log", "grep", "find .", "rg", "sed -n"]),
    rest=st.lists(_PIECES, max_size=8).map("".join),
)
def test_allowed_commands_get_the_words_bash_gives_them(
    name: str, rest: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """For every command allowed to run, bash runs exactly the commands and words checked."""
    command = f"{name} {rest}"
    parsed = parse_command(command)
    if not review(command).allowed:
        return
    directory = tmp_path_factory.mktemp("bash")
    expected = sorted(simple.argv for simple in parsed.commands)
    assert bash_argvs(command, directory) == (expected, ""), command


# -- through the engine ------------------------------------------------------------------------


def headless(tmp_path: Path, steps: list[Step | str]) -> tuple[Session, list[Event]]:
    """A session that cannot ask (headless `deny` mode) with no allow-list."""
    session = Session(
        ScriptedModel(steps),
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True, shell_approval="deny"),
    )
    events: list[Event] = []
    session.subscribe(events.append)
    return session, events


def tool_outputs(events: list[Event]) -> list[str]:
    return [str(e.data["output"]) for e in events if e.kind is EventKind.TOOL_CALL_END]


def test_headless_runs_builtin_read_only_commands(tmp_path: Path) -> None:
    """Without an allow-list, a headless run still runs `ls` unasked."""
    (tmp_path / "hello.txt").write_text("hi\n")
    session, events = headless(tmp_path, [call("shell", command="ls"), "done"])
    try:
        session.send("list")
    finally:
        session.close()
    assert "hello.txt" in tool_outputs(events)[0]


def test_headless_refusal_tells_the_model_why(tmp_path: Path) -> None:
    """The error the model reads names what in the command needs approval."""
    session, events = headless(tmp_path, [call("shell", command="git status > s.txt"), "ok"])
    try:
        session.send("save the status")
    finally:
        session.close()
    assert "because the command redirects output to a file (`> s.txt`)" in tool_outputs(events)[0]


def test_approval_request_carries_the_reason(tmp_path: Path) -> None:
    """APPROVAL_REQUESTED says why the command needs the person."""
    session = Session(
        ScriptedModel([call("shell", command="touch made.txt"), "ok"]),
        root=tmp_path,
        skills_dirs=[],
        config=SessionConfig(shell=True),
    )
    reasons: list[object] = []

    def deny(event: Event) -> None:
        if event.kind is EventKind.APPROVAL_REQUESTED:
            reasons.append(event.data["reason"])
            event.data["future"].set_result(False)

    session.subscribe(deny)
    try:
        session.send("make it")
    finally:
        session.close()
    assert reasons == ["`touch made.txt` is not on the allow-list"]


@pytest.mark.parametrize(
    ("command", "allow", "reason"),
    [
        ("tar -tf a.tar --use-compress-program='sh -c x'", "tar -tf", "`tar --use-compress"),
        ("tar -tf a.tar -I 'sh -c x'", "tar -tf", "`tar --use-compress"),
        ("tar tIf 'sh -c x' a.tar", "tar", "`tar --use-compress"),
        ("tar -tf a.tar --checkpoint-action=exec='touch x'", "tar -tf", "`tar --checkpoint-action"),
        ("tar -xf a.tar --to-command='touch x'", "tar", "`tar --to-command"),
        ("tar -tf a.tar --info-script=./x", "tar -tf", "`tar --info-script"),
        ("tar -tf a.tar -F ./x", "tar -tf", "`tar --info-script"),
        ("tar --rsh-command=./x -tf h:a.tar", "tar", "`tar --rsh-command"),
        ("awk 'BEGIN { system(\"touch x\") }'", "awk", "`awk` runs"),
        ("gawk -f prog.awk data", "gawk", "`gawk` runs"),
        ("man -P 'touch x' ls", "man", "`man -P`"),
        ("man --pager='touch x' ls", "man", "`man -P`"),
        ("man -H'touch x' ls", "man", "`man -H`"),
    ],
)
def test_allow_list_entry_does_not_cover_options_that_run_code(
    command: str, allow: str, reason: str
) -> None:
    """An allow-listed tar, awk or man still asks when it is told to run a program."""
    verdict = review(command, (allow,))
    assert (verdict.allowed, reason in verdict.reason) == (False, True), verdict.reason


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("sed 's/a/b/' f", True),
        ("sed -n '/x/p;5q' f", True),
        ("sed -E -e 's/(a)/\\1b/g' -e '$d' f", True),
        ("sed 'y/abc/xyz/' f", True),
        ("sed 's/a/b/e' f", False),
        ("sed '1e touch x' f", False),
        ("sed 's/a/b/w out' f", False),
        ("sed -n '/x/w out' f", False),
        ("sed -e 's/a/b/' -e 'W out' f", False),
        ("sed --expression='1e touch x' f", False),
        ("sed -f script.sed f", False),
        ("sed 's|a|b|;e touch x' f", False),
        ("sed '/a/{\ne touch x\n}' f", False),
    ],
)
def test_allow_listed_sed_asks_for_scripts_that_run_or_write(command: str, allowed: bool) -> None:
    """With `sed` on the allow-list, a script with `e`, `w`/`W` or the `s///e`/`w` flags asks."""
    assert review(command, ("sed",)).allowed is allowed
