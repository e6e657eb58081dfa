"""Which shell commands may run without asking, decided on the parsed command.

`review(command, allow)` parses the command with bash's grammar
(`tiller.shell_grammar`) and allows it only when every simple command in it

- is not a command that runs other commands or inline code (`env`, `xargs`,
  `sudo`, `eval`, `bash`, `python -c`, ...),
- carries no option that runs code or writes files (`git -c`, `find -exec`,
  `rg --pre`, `sed -i`, `sort -o`, `git diff --output`, ...), whatever the
  allow-list says, and
- matches an entry of the built-in read-only list (`BUILTIN_ALLOW`) or of the
  user's allow-list word for word, as a prefix of its words.

An allow-list entry is split into words like a shell would (`git log` is two
words); a word with `*`, `?` or `[` is a wildcard for one word (`git *` allows
`git` followed by anything). Every refusal comes with a reason the person and
the model read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tiller.shell_grammar import SimpleCommand, parse_command


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a command may run unasked, and if not, why.

    Attributes:
        allowed: it may run without asking.
        reason: why it needs the person (empty when allowed).
    """

    allowed: bool
    reason: str = ""


Check = Callable[[tuple[str, ...]], str]
"""Looks at a command's words; returns why it is unsafe, or an empty string."""

# -- commands that run other commands or code given inline ------------------------------

_RUNS_OTHER_COMMANDS = frozenset(
    {
        "eval", "exec", "source", ".", "command", "builtin", "env", "xargs", "sudo", "doas",
        "su", "nohup", "setsid", "nice", "ionice", "timeout", "time", "watch", "strace",
        "ltrace", "chroot", "unshare", "nsenter", "flock", "parallel", "script", "busybox",
        "stdbuf", "trap", "coproc", "runuser", "setpriv", "fakeroot", "systemd-run",
        # bash builtins: `enable -f x.so` loads code into the shell, `hash -p ./x ls` makes
        # the next `ls` run ./x.
        "enable", "hash",
        # Wrappers that run the command they are given.
        "sg", "newgrp", "pkexec", "taskset", "chrt", "numactl", "prlimit", "cpulimit",
        "xvfb-run", "dbus-run-session", "dbus-launch", "unbuffer", "faketime", "firejail",
        "bwrap", "proot", "torsocks", "proxychains", "proxychains4", "catchsegv", "valgrind",
        "ssh-agent", "at", "batch", "entr", "gdb", "capsh", "run-parts", "expect",
    }
)  # fmt: skip
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "fish", "csh", "tcsh", "ash"})
_INLINE_CODE = re.compile(r"^(?:python[\d.]*|pypy[\d.]*|perl|ruby|node|nodejs|deno|bun|php|lua)$")
_INLINE_LETTERS = frozenset("ceEpr")
"""`python -c`, `perl -e` / `-E` / `-ne`, `ruby -e`, `node -e` / `-p`, `php -r`."""


def _runner_problem(argv: tuple[str, ...]) -> str:
    name = argv[0].rsplit("/", 1)[-1]
    if name in _RUNS_OTHER_COMMANDS:
        return f"`{name}` runs other commands, which Tiller cannot check"
    if name in _SHELLS:
        return f"`{name}` runs shell code that Tiller cannot check"
    if _INLINE_CODE.match(name):
        return _inline_code_problem(name, argv[1:])
    return ""


_INTERPRETER_VALUES = frozenset({"-W", "-X"})
"""Interpreter options whose value is the next word (`python -W ignore`)."""


def _inline_code_problem(name: str, args: tuple[str, ...]) -> str:
    """`python -c` and the like, among the interpreter's own options.

    The options end at the script or `-m module`; what follows is the program's own
    (`python -m pytest -p no:x` is not `python -p`).
    """
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--" or not arg.startswith("-") or arg.startswith("-m"):
            break
        if arg in _INTERPRETER_VALUES:
            skip = True
            continue
        letters = [ch for ch in _short_bundle(arg) if ch in _INLINE_LETTERS]
        if letters:
            return f"`{name} -{letters[0]}` runs code given on the command line"
        if _long(arg, "--eval", "--print"):
            return f"`{name} {arg.split('=', 1)[0]}` runs code given on the command line"
    return ""


# -- options that run code or write, per program ------------------------------------------


def _short_bundle(arg: str) -> str:
    """What follows the dash of a short-option bundle (`-ni.bak` -> `ni.bak`), else empty.

    Options that take a value swallow the rest of the bundle (`-ni.bak` is `-n -i .bak`),
    so a letter anywhere in it may be the option.
    """
    if len(arg) > 1 and arg[0] == "-" and arg[1] != "-":
        return arg[1:]
    return ""


def _long(arg: str, *names: str) -> bool:
    """Whether `arg` is one of the long options `names`, alone or as `--name=value`.

    GNU getopt and git accept any unambiguous abbreviation (`sort --out=F` is
    `--output=F`), so a prefix of a name counts as the name.
    """
    option = arg.split("=", 1)[0]
    return option.startswith("--") and len(option) > 2 and any(n.startswith(option) for n in names)


def _has_option(argv: tuple[str, ...], longs: tuple[str, ...], shorts: str = "") -> bool:
    """Whether an option before `--` is one of `longs` (see `_long`) or holds one of the
    short letters `shorts` in its bundle (see `_short_bundle`)."""
    for arg in argv[1:]:
        if arg == "--":
            return False
        if _long(arg, *longs) or set(shorts) & set(_short_bundle(arg)):
            return True
    return False


_GIT_SAFE_GLOBAL = frozenset(
    {"--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs", "--no-replace-objects",
     "--glob-pathspecs", "--noglob-pathspecs", "--icase-pathspecs", "--version", "--help", "-h"}
)  # fmt: skip
_GIT_CONFIG_KEY = re.compile(r"^(?:-{1,2}[\w-]*=?)?core\.\w+", re.IGNORECASE)
_GIT_RUNS_CODE: dict[str, tuple[tuple[str, ...], str]] = {
    "rebase": (("-x", "--exec"), "runs a command after each commit"),
    "difftool": (("-x", "--extcmd"), "runs the given diff command"),
    "grep": (("-O", "--open-files-in-pager"), "runs the given pager"),
    "archive": (("--exec",), "runs the given program on the remote side"),
    "fetch": (("--upload-pack",), "runs the given program as the upload pack"),
    "pull": (("--upload-pack",), "runs the given program as the upload pack"),
    "clone": (("-u", "--upload-pack", "-c", "--config", "--template"), "can run code"),
    "ls-remote": (("--upload-pack",), "runs the given program as the upload pack"),
    "push": (("--receive-pack", "--exec"), "runs the given program as the receive pack"),
    "init": (("--template",), "copies hooks from a template"),
    "submodule": (("foreach",), "runs a command in each submodule"),
    "send-email": (
        ("--to-cmd", "--cc-cmd", "--header-cmd", "--sendmail-cmd", "--smtp-server"),
        "runs the given program",
    ),
    "daemon": (("--access-hook",), "runs the given program for each request"),
    "bisect": (("run",), "runs a command at each step"),
}
_GIT_EXACT_OPTIONS = frozenset({"--to", "--cc", "--bcc"})
"""Real options that are also prefixes of ones that run code: an exact match is never
taken as an abbreviation (`git send-email --to=a@b` is not `--to-cmd`)."""
_GIT_ALWAYS_ASK = {"filter-branch": "runs shell code for each commit"}


def _git_problem(argv: tuple[str, ...]) -> str:
    index = 1
    while index < len(argv) and argv[index].startswith("-"):
        option = argv[index]
        if option.startswith("-c") or _long(option, "--config-env"):
            return "`git -c` sets configuration that can run arbitrary code (aliases, pagers)"
        if option.startswith("-C"):
            return "`git -C` runs git in another directory, whose configuration can run code"
        if _long(option, "--exec-path"):
            return "`git --exec-path` makes git run programs from another directory"
        if _long(option, "--git-dir", "--work-tree", "--namespace", "--super-prefix"):
            name = option.split("=", 1)[0]
            return f"`git {name}` points git at another repository (its configuration can run code)"
        if option not in _GIT_SAFE_GLOBAL:
            return f"the git option `{option}` before the subcommand is not known to be safe"
        index += 1
    rest = argv[index:]
    subcommand = rest[0] if rest else ""
    if subcommand in _GIT_ALWAYS_ASK:
        return f"`git {subcommand}` {_GIT_ALWAYS_ASK[subcommand]}"
    for arg in rest[1:]:
        if _long(arg, "--output"):
            return f"`git {subcommand} --output` writes a file"
        if _long(arg, "--ext-diff"):
            return f"`git {subcommand} --ext-diff` runs an external diff program"
        if _long(arg, "--upload-pack", "--receive-pack"):
            return f"`{arg.split('=', 1)[0]}` runs the given program"
        if _GIT_CONFIG_KEY.match(arg):
            return f"`{arg}` sets git configuration (`core.*`), which can run code"
        dangerous, why = _GIT_RUNS_CODE.get(subcommand, ((), ""))
        if arg.split("=", 1)[0] in _GIT_EXACT_OPTIONS:
            continue  # an option of its own, not an abbreviation of `--to-cmd`
        for name in dangerous:
            short = len(name) == 2 and name.startswith("-")
            if arg == name or (short and name[1] in _short_bundle(arg)) or _long(arg, name):
                return f"`git {subcommand} {name}` {why}"
    return ""


_FIND_ACTIONS = frozenset(
    {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"}
)


def _find_problem(argv: tuple[str, ...]) -> str:
    for arg in argv[1:]:
        if arg in _FIND_ACTIONS:
            verb = (
                "deletes files"
                if arg == "-delete"
                else ("writes a file" if arg.startswith("-f") else "runs a command for each file")
            )
            return f"`find {arg}` {verb}"
    return ""


def _rg_problem(argv: tuple[str, ...]) -> str:
    if _has_option(argv, ("--pre",)):
        return "`rg --pre` runs a program on every file searched"
    if _has_option(argv, ("--hostname-bin",)):
        return "`rg --hostname-bin` runs a program"
    if _has_option(argv, ("--search-zip",), "z"):
        return "`rg --search-zip` runs decompression programs"
    return ""


def _sed_problem(argv: tuple[str, ...]) -> str:
    if _has_option(argv, ("--in-place",), "i"):
        return "`sed -i` edits files in place"
    scripts, from_file = _sed_scripts(argv)
    if from_file:
        return "`sed -f` runs a script from a file, which Tiller cannot check"
    for script in scripts:
        problem = _sed_script_problem(script)
        if problem:
            return problem
    return ""


def _sed_scripts(argv: tuple[str, ...]) -> tuple[list[str], bool]:
    """The scripts a sed command runs (`-e`, `--expression`, or the first operand), and
    whether one comes from a file (`-f`)."""
    scripts: list[str] = []
    from_file = False
    operands: list[str] = []
    args = list(argv[1:])
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            operands += args[index + 1 :]
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            takes_value = _long(name, "--expression", "--file", "--line-length")
            if takes_value and not eq:
                index += 1
                value = args[index] if index < len(args) else ""
            if _long(name, "--expression"):
                scripts.append(value)
            elif _long(name, "--file"):
                from_file = True
        elif arg.startswith("-") and len(arg) > 1:
            for position, letter in enumerate(arg[1:], start=2):
                if letter in "efl":  # these take the rest of the word, or the next word
                    value = arg[position:]
                    if not value:
                        index += 1
                        value = args[index] if index < len(args) else ""
                    if letter == "e":
                        scripts.append(value)
                    from_file = from_file or letter == "f"
                    break
        else:
            operands.append(arg)
        index += 1
    if not scripts and not from_file and operands:
        scripts.append(operands[0])
    return scripts, from_file


_SED_SIMPLE = frozenset("=dDgGhHlLnNpPqQxzF")
"""sed commands that take nothing but an optional number."""


def _sed_script_problem(script: str) -> str:
    """Why a sed script may run a command or write a file (`e`, `w`, `W`, `s///e`, `s///w`),
    or cannot be read; empty when it only edits the stream."""
    unreadable = "the sed script is not one Tiller can read (it could run commands)"
    length = len(script)

    def past(start: int, delimiter: str) -> int:
        at = start
        while at < length:
            if script[at] == "\\":
                at += 2
            elif script[at] == delimiter:
                return at + 1
            else:
                at += 1
        return -1

    def line_end(start: int, stops: str = "\n") -> int:
        at = start
        while at < length and script[at] not in stops:
            at += 2 if script[at] == "\\" else 1
        return at

    at = 0
    while at < length:
        char = script[at]
        if char in " \t\n;{}!" or char.isdigit() or char in "$,~+IM":
            at += 1  # separators, grouping, negation, line addresses and regex flags
        elif char == "#":
            at = line_end(at)
        elif char in "/\\":  # an address: /regex/ or \cregexc
            at = past(at + 1, "/") if char == "/" else past(at + 2, script[at + 1 : at + 2])
            if at < 0:
                return unreadable
        elif char in "ewW":
            does = "runs a command" if char == "e" else "writes a file"
            return f"the sed command `{char}` {does}"
        elif char in "sy":
            delimiter = script[at + 1 : at + 2]
            if delimiter in ("", "\n", "\\"):
                return unreadable
            middle = past(at + 2, delimiter)
            end = past(middle, delimiter) if middle >= 0 else -1
            if end < 0:
                return unreadable
            at = end
            if char == "s":
                at = line_end(end, ";\n}")
                if any(flag in script[end:at] for flag in "ewW"):
                    return "a sed `s///e` or `s///w` flag runs a command or writes a file"
        elif char in "aic":
            at = line_end(at)
        elif char in "rRbtT:v":
            at = line_end(at, "\n" if char in "rR" else ";\n")
        elif char in _SED_SIMPLE:
            at += 1
        else:
            return unreadable
    return ""


def _sort_problem(argv: tuple[str, ...]) -> str:
    if _has_option(argv, ("--output",), "o"):
        return "`sort -o` writes a file"
    if _has_option(argv, ("--compress-program",)):
        return "`sort --compress-program` runs a program"
    return ""


def _printf_problem(argv: tuple[str, ...]) -> str:
    # bash evaluates an array subscript in the variable's name, command substitution
    # included (`printf -v 'a[$(cmd)]' x`), and `-v PATH` changes which `ls` runs next.
    for arg in argv[1:]:
        if arg == "--" or not arg.startswith("-"):
            break
        if "v" in _short_bundle(arg):
            return "`printf -v` assigns a shell variable (its name can run code, or be PATH)"
    return ""


_TAR_RUNS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("--use-compress-program",), "I", "--use-compress-program"),
    (("--to-command",), "", "--to-command"),
    (("--checkpoint-action",), "", "--checkpoint-action"),
    (("--info-script", "--new-volume-script"), "F", "--info-script"),
    (("--rsh-command", "--rmt-command"), "", "--rsh-command"),
)
"""tar options that run a program: long names, the short letter, and how a refusal names them."""


def _tar_problem(argv: tuple[str, ...]) -> str:
    for index, arg in enumerate(argv[1:]):
        if arg == "--":
            break
        # `tar tIf prog a.tar`: the first word may be a bundle of letters without a dash.
        letters = _short_bundle(arg) or (arg if index == 0 and arg.isalpha() else "")
        for longs, short, shown in _TAR_RUNS:
            if _long(arg, *longs) or (short and short in letters):
                return f"`tar {shown}` runs a program"
    return ""


def _awk_problem(argv: tuple[str, ...]) -> str:
    name = argv[0].rsplit("/", 1)[-1]
    return f"`{name}` runs a program given inline or in a file (`system()`, pipes, writes)"


def _man_problem(argv: tuple[str, ...]) -> str:
    if _has_option(argv, ("--pager",), "P"):
        return "`man -P` runs the given pager"
    if _has_option(argv, ("--html",), "H"):
        return "`man -H` runs the given browser"
    return ""


def _fd_problem(argv: tuple[str, ...]) -> str:
    if _has_option(argv, ("--exec", "--exec-batch"), "xX"):
        return f"`{argv[0].rsplit('/', 1)[-1]} --exec` runs a command for each file"
    return ""


def _rsync_problem(argv: tuple[str, ...]) -> str:
    if _has_option(argv, ("--rsh", "--rsync-path"), "e"):
        return "`rsync -e` runs the given program (as the remote shell)"
    return ""


def _split_problem(argv: tuple[str, ...]) -> str:
    if any(_long(arg, "--filter") for arg in argv[1:]):
        return "`split --filter` runs a shell command for each piece"
    return ""


def _diff_program_problem(argv: tuple[str, ...]) -> str:
    name = argv[0].rsplit("/", 1)[-1]
    if any(_long(arg, "--diff-program") for arg in argv[1:]):
        return f"`{name} --diff-program` runs the given program"
    return ""


def _zip_problem(argv: tuple[str, ...]) -> str:
    for arg in argv[1:]:
        if arg.startswith("-TT") or _long(arg, "--unzip-command"):
            return "`zip --unzip-command` runs the given program"
    return ""


def _ssh_problem(argv: tuple[str, ...]) -> str:
    """ssh, scp, sftp: `-o ProxyCommand=...` / `LocalCommand`, a config file (`-F`, whose
    `Match exec` runs), and scp's / sftp's `-S program` all run a local program."""
    name = argv[0].rsplit("/", 1)[-1]
    if _has_option(argv, (), "o"):
        return f"`{name} -o` can run a local command (ProxyCommand, LocalCommand)"
    if _has_option(argv, (), "F"):
        return f"`{name} -F` reads a config file that can run local commands"
    if name != "ssh" and _has_option(argv, (), "S"):
        return f"`{name} -S` runs the given program instead of ssh"
    return ""


_OPTION_CHECKS: dict[str, Check] = {
    "fd": _fd_problem,
    "fdfind": _fd_problem,
    "rsync": _rsync_problem,
    "split": _split_problem,
    "sdiff": _diff_program_problem,
    "diff3": _diff_program_problem,
    "zip": _zip_problem,
    "ssh": _ssh_problem,
    "scp": _ssh_problem,
    "sftp": _ssh_problem,
    "printf": _printf_problem,
    "tar": _tar_problem,
    "man": _man_problem,
    **{name: _awk_problem for name in ("awk", "gawk", "mawk", "nawk", "busybox-awk")},
    "git": _git_problem,
    "find": _find_problem,
    "rg": _rg_problem,
    "sed": _sed_problem,
    "sort": _sort_problem,
}
"""Checks that apply whatever the allow-list says, by program name."""


def unsafe_options(argv: tuple[str, ...]) -> str:
    """Why these words run code or write despite any allow-list entry, or empty."""
    problem = _runner_problem(argv)
    if problem:
        return problem
    check = _OPTION_CHECKS.get(argv[0].rsplit("/", 1)[-1])
    return check(argv) if check is not None else ""


# -- the built-in read-only list --------------------------------------------------------

_GIT_BRANCH_LISTING = frozenset(
    {"-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose", "--show-current", "--list",
     "-l", "--no-color", "--color", "--merged", "--no-merged", "--no-column"}
)  # fmt: skip
_SED_PRINT = re.compile(r"^(?:\d+|\$|\d+,(?:\d+|\$))p$")


def _branch_lists_only(argv: tuple[str, ...]) -> bool:
    """`git branch` that only lists: no names (which would create) and no changing flags."""
    return all(
        arg in _GIT_BRANCH_LISTING or arg.startswith(("--sort=", "--format=", "--color="))
        for arg in argv[2:]
    )


def _sed_prints_lines(argv: tuple[str, ...]) -> bool:
    """`sed -n 5p`, `sed -n '10,20p' FILE`: printing a range of lines, nothing else."""
    return (
        len(argv) in (3, 4)
        and bool(_SED_PRINT.match(argv[2]))
        and (len(argv) == 3 or not argv[3].startswith("-"))
    )


BUILTIN_ALLOW: tuple[str, ...] = (
    "ls", "cat", "head", "tail", "wc", "pwd", "echo", "printf", "true", "false", "grep", "rg",
    "find", "which", "basename", "dirname", "realpath", "nl", "cut", "sort", "diff", "cmp",
    "stat", "du", "git status", "git diff", "git log", "git show", "git branch", "sed -n",
)  # fmt: skip
"""Read-only commands that never need asking (their unsafe options still ask)."""

_BUILTIN_CONDITIONS: dict[tuple[str, ...], Callable[[tuple[str, ...]], bool]] = {
    ("git", "branch"): _branch_lists_only,
    ("sed", "-n"): _sed_prints_lines,
}


_GIT_QUIET_GLOBAL = _GIT_SAFE_GLOBAL - {"--version", "--help", "-h"}
"""Global git options that change nothing about what a subcommand does (no pager, no
optional locks, pathspec style): `git --no-pager log` is `git log` for the built-in list."""


def _builtin_allows(argv: tuple[str, ...]) -> bool:
    if argv[0] == "git":
        skipped = 1
        while skipped < len(argv) and argv[skipped] in _GIT_QUIET_GLOBAL:
            skipped += 1
        argv = ("git", *argv[skipped:])
    for entry in BUILTIN_ALLOW:
        words = tuple(entry.split())
        if argv[: len(words)] == words:
            condition = _BUILTIN_CONDITIONS.get(words)
            if condition is None or condition(argv):
                return True
    return False


# -- the user's allow-list ----------------------------------------------------------------


def entry_words(entry: str) -> tuple[str, ...]:
    """An allow-list entry as words, split the way a shell would split it."""
    try:
        return tuple(shlex.split(entry))
    except ValueError:
        return tuple(entry.split())


def entry_matches(entry: str, argv: tuple[str, ...]) -> bool:
    """Whether allow-list `entry` names `argv`: its words are a prefix of the command's.

    A word with `*`, `?` or `[` is a shell-style wildcard for one whole word;
    any other word must be equal.
    """
    words = entry_words(entry)
    if not words or len(words) > len(argv):
        return False
    return all(
        fnmatchcase(arg, word) if any(ch in word for ch in "*?[") else arg == word
        for word, arg in zip(words, argv, strict=False)
    )


# -- the verdict ----------------------------------------------------------------------------


def review(command: str, allow: Sequence[str] = (), *, builtin: bool = True) -> Verdict:
    """Decide whether `command` may run without asking.

    The reason of a refusal is a clause that reads on its own ("the command
    redirects output to a file (`> out.txt`)", "`rm x` is not on the allow-list").

    Args:
        command: the shell command as the model wrote it.
        allow: the user's allow-list entries (config `shell.allow`).
        builtin: also allow the built-in read-only commands (`BUILTIN_ALLOW`).
    """
    parsed = parse_command(command)
    if parsed.problem:
        return Verdict(False, f"the command {parsed.problem}")
    if not parsed.commands:
        return Verdict(False, "the command has nothing to run")
    # Every command that needs the person is named: with only the first, a harmless-looking
    # `touch notes` could stand for the `rm -rf src` after it.
    reasons = list(
        dict.fromkeys(
            reason
            for reason in (_simple_problem(simple, allow, builtin) for simple in parsed.commands)
            if reason
        )
    )
    if not reasons:
        return Verdict(True)
    more = f"; and {len(reasons) - _NAMED_REASONS} more" if len(reasons) > _NAMED_REASONS else ""
    return Verdict(False, "; ".join(reasons[:_NAMED_REASONS]) + more)


_NAMED_REASONS = 3
"""How many of a command line's problems a refusal names; the rest are counted."""


def _simple_problem(simple: SimpleCommand, allow: Sequence[str], builtin: bool) -> str:
    argv = simple.argv
    problem = unsafe_options(argv)
    if problem:
        return problem
    if builtin and _builtin_allows(argv):
        return ""
    if any(entry_matches(entry, argv) for entry in allow if entry.strip()):
        return ""
    shown = " ".join(argv)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if not argv[0].isascii():
        return f"`{shown}` is not on the allow-list (its name has non-ASCII characters)"
    return f"`{shown}` is not on the allow-list"
