"""The environment a sandboxed command sees: the user's, minus anything secret.

Commands come from the model, so they must not be able to read the keys Tiller
itself uses (or any other credential the user exported). Names are matched
case-insensitively against shell-style patterns.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping

from tiller.redaction import Redactor, is_secret_name, redact_urls

SECRET_PATTERNS: tuple[str, ...] = (
    "*_API_KEY",
    "*_SECRET",
    "*_TOKEN",
    "*_PASSWORD",
    "*_CREDENTIAL",
    # Common spellings the five above miss: AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS,
    # *_SECRET_KEY, *_ACCESS_KEY, *_PASSWD and bare API_KEY / TOKEN.
    "*_CREDENTIALS",
    "*_SECRET_*",
    "*_ACCESS_KEY",
    "*_PASSWD",
    "API_KEY",
    "TOKEN",
    "PASSWORD",
    "SECRET",
)
"""Variables whose names match any of these are removed."""


_ALSO_SECRET_WORDS = frozenset({"pass", "pat"})
"""Words that name a credential in a variable (`DB_PASS`, `GITHUB_PAT`) besides the journal's."""


CODE_LOADING_VARIABLES: tuple[str, ...] = (
    "BASH_ENV",
    "ENV",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "GIT_EXEC_PATH",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG",
    "GIT_TEMPLATE_DIR",
    "RIPGREP_CONFIG_PATH",
)
"""Variables naming files that commands run unasked (`ls`, `rg`, `git`) load or source."""


GIT_PROTECTED_CONFIG: tuple[tuple[str, str], ...] = (("safe.bareRepository", "explicit"),)
"""Git settings every command gets as command-line configuration (`GIT_CONFIG_COUNT`).

The model writes ordinary files: `HEAD`, `config`, `objects/...` and `refs/...` make the
command's directory a bare repository that git discovers before the real `.git` (a
subdirectory of the repository, or a root without one), and its `config` runs code from
an unasked `git diff --no-index` (`diff.external`). Git honours `safe.bareRepository`
only from protected configuration, which command-line configuration is.
"""


_GIT_CONFIG_NAME = re.compile(r"^GIT_CONFIG_(?:COUNT|KEY_\d+|VALUE_\d+)$")


def is_secret(name: str, patterns: Iterable[str] = SECRET_PATTERNS) -> bool:
    """Whether an environment variable called `name` looks like a credential.

    Every name whose value the journal redacts (`tiller.redaction.is_secret_name`:
    a word such as `key`, `auth` or `cookie`, so `SECRET_KEY` and `OPENAI_KEY`)
    counts: a command must not print what the journal would not store.
    """
    upper = name.upper()
    if any(fnmatch.fnmatchcase(upper, pattern) for pattern in patterns):
        return True
    return is_secret_name(name) or bool(
        _ALSO_SECRET_WORDS & set(re.split(r"[^a-z0-9]+", name.lower()))
    )


_FORMATS = Redactor()
"""Knows no values: finds the unmistakable token formats (`sk-ant-...`, `ghp_...`, `AKIA...`)."""


def carries_credentials(value: str) -> bool:
    """Whether a value holds a URL with credentials (`postgres://user:pass@host`, `?token=`)
    or a token in a known format (a key under an innocent name: `LLM=sk-ant-...`)."""
    return ("://" in value and redact_urls(value) != value) or _FORMATS.contains_secret(value)


def is_secret_variable(name: str, value: str) -> bool:
    """Whether a variable must not reach a command: its name or its value is a credential."""
    return is_secret(name) or carries_credentials(value)


def _inside(entry: str, root: str) -> bool:
    """Whether a PATH entry names `root` or a directory under it (relative ones count)."""
    if not os.path.isabs(entry):
        return True  # `.`, `bin`, '' resolve against the command's cwd: the copy
    entry = os.path.normpath(entry)
    root = os.path.normpath(root)
    return entry == root or entry.startswith(root.rstrip(os.sep) + os.sep)


def sandbox_env(
    environ: Mapping[str, str],
    *,
    extra_secrets: Iterable[str] = (),
    pwd: str | None = None,
    untrusted: str | None = None,
) -> dict[str, str]:
    """A copy of `environ` without credentials, for a command in the sandbox.

    PATH, HOME, LANG, TERM, the locale and language variables (PYTHONPATH,
    VIRTUAL_ENV, GOPATH, ...) pass through unchanged.

    Args:
        environ: the environment to filter (usually `os.environ`).
        extra_secrets: more exact names to drop (e.g. a configured key variable).
        pwd: the directory the command starts in, exported as PWD.
        untrusted: a directory whose contents the model controls (the workspace root);
            PATH entries inside it are dropped.

    Returns:
        The filtered environment.
    """
    drop = {name.upper() for name in extra_secrets}
    env = {
        name: value
        for name, value in environ.items()
        if name.upper() not in drop and not is_secret_variable(name, value)
    }
    if pwd is not None:
        env["PWD"] = pwd
    if untrusted is not None:
        # A file these name inside the root is the model's: `ls` would source or load it.
        for name in CODE_LOADING_VARIABLES:
            value = env.get(name)
            if value is not None and any(
                _inside(entry, untrusted)
                for entry in value.replace(" ", os.pathsep).split(os.pathsep)
                if entry
            ):
                del env[name]
    if untrusted is not None and "PATH" in env:
        # Inside the sandbox the root's path holds the model's copy: a `.venv/bin` of the
        # project on PATH would let it plant `grep` and have a read-only command run it.
        env["PATH"] = os.pathsep.join(
            entry for entry in env["PATH"].split(os.pathsep) if not _inside(entry, untrusted)
        )
    _add_git_config(env, environ, GIT_PROTECTED_CONFIG)
    # Bytecode caches would come back as noise in the sandbox; a pager would hang the command.
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env["PAGER"] = "cat"
    env["GIT_PAGER"] = "cat"
    return env


def _add_git_config(
    env: dict[str, str], environ: Mapping[str, str], settings: Iterable[tuple[str, str]]
) -> None:
    """Renumber the user's command-line git configuration in `env` and append `settings`.

    A `GIT_CONFIG_KEY_<n>` names a setting, never holds a secret, so it comes from
    `environ` even though the name filter took it out (`KEY`); a pair whose value was
    withheld as a credential is left out whole, since git refuses a half pair.
    """
    try:
        count = min(max(0, int(environ.get("GIT_CONFIG_COUNT", "0"))), 1000)
    except ValueError:
        count = 0  # git refuses a malformed count outright: drop the user's pairs
    pairs = [
        (environ[f"GIT_CONFIG_KEY_{n}"], env[f"GIT_CONFIG_VALUE_{n}"])
        for n in range(count)
        if f"GIT_CONFIG_KEY_{n}" in environ and f"GIT_CONFIG_VALUE_{n}" in env
    ]
    for name in [name for name in env if _GIT_CONFIG_NAME.match(name)]:
        del env[name]
    pairs += settings
    for n, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
