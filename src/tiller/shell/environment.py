"""The environment a sandboxed command sees: the user's, minus anything secret.

Commands come from the model, so they must not be able to read the keys Tiller
itself uses (or any other credential the user exported). Names are matched
case-insensitively against shell-style patterns.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

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


def is_secret(name: str, patterns: Iterable[str] = SECRET_PATTERNS) -> bool:
    """Whether an environment variable called `name` looks like a credential."""
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in patterns)


def sandbox_env(
    environ: Mapping[str, str], *, extra_secrets: Iterable[str] = (), pwd: str | None = None
) -> dict[str, str]:
    """A copy of `environ` without credentials, for a command in the sandbox.

    PATH, HOME, LANG, TERM, the locale and language variables (PYTHONPATH,
    VIRTUAL_ENV, GOPATH, ...) pass through unchanged.

    Args:
        environ: the environment to filter (usually `os.environ`).
        extra_secrets: more exact names to drop (e.g. a configured key variable).
        pwd: the directory the command starts in, exported as PWD.

    Returns:
        The filtered environment.
    """
    drop = {name.upper() for name in extra_secrets}
    env = {
        name: value
        for name, value in environ.items()
        if name.upper() not in drop and not is_secret(name)
    }
    if pwd is not None:
        env["PWD"] = pwd
    # Bytecode caches would come back as noise in the sandbox; a pager would hang the command.
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env["PAGER"] = "cat"
    env["GIT_PAGER"] = "cat"
    return env
