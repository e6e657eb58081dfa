"""Gitignore rules for walking the base directory.

Each directory's `.gitignore` applies to paths below that directory; deeper
files win over shallower ones, and `.git/info/exclude` sits below them all,
as in git. Parsed files are cached by their stat signature.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass

import pathspec

from tiller.workspace.paths import join


@dataclass(frozen=True)
class Rules:
    """The `.gitignore` patterns of one directory.

    Attributes:
        directory: the workspace directory the patterns are relative to.
        spec: the compiled patterns.
    """

    directory: str
    spec: pathspec.GitIgnoreSpec
    quick: re.Pattern[str] | None = None


def _any_pattern(spec: pathspec.GitIgnoreSpec) -> re.Pattern[str] | None:
    """One regex matching wherever any of the spec's patterns would (a fast first test).

    Most paths match no pattern at all; testing them against a single
    alternation in C is several times faster than asking pathspec pattern by
    pattern. None when the patterns are not plain regexes.
    """
    parts = []
    for pattern in spec.patterns:
        if pattern.include is None:
            continue
        regex = getattr(pattern, "regex", None)
        if not isinstance(regex, re.Pattern) or not isinstance(regex.pattern, str):
            return None
        parts.append(_GROUP_NAME.sub("(?:", regex.pattern))
    if not parts:
        return None
    try:
        return re.compile("|".join(f"(?:{part})" for part in parts))
    except re.error:
        return None


Chain = tuple[Rules, ...]
_GROUP_NAME = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
"""The rules that apply in one directory, shallowest first."""


def is_ignored(chain: Chain, path: str, is_dir: bool) -> bool:
    """Whether the deepest rules with an opinion on `path` ignore it."""
    for rules in reversed(chain):
        directory = rules.directory
        relative = path[len(directory) + 1 :] if directory else path
        if is_dir:
            relative += "/"
        quick = rules.quick
        if quick is not None and quick.search(relative) is None:
            continue
        try:
            include = rules.spec.check_file(relative).include
        except UnicodeEncodeError:
            # A name that is not UTF-8 holds surrogates, which pathspec's RE2 refuses.
            readable = relative.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            include = rules.spec.check_file(readable).include
        if include is not None:
            return include
    return False


class IgnoreFiles:
    """Loads and caches the ignore files under one root directory."""

    def __init__(self, root_real: str) -> None:
        self._root = root_real
        self._cache: dict[str, tuple[tuple[int, int], Rules | None]] = {}
        self._lock = threading.Lock()

    def _load(self, file: str, directory: str) -> Rules | None:
        try:
            st = os.stat(file)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._cache.get(file)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(file, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
        rules = Rules(directory, spec, _any_pattern(spec)) if len(spec) else None
        with self._lock:
            self._cache[file] = (key, rules)
        return rules

    def extend(self, chain: Chain, directory: str) -> Chain:
        """Add the `.gitignore` of `directory` (if any) to the chain of its parent."""
        rules = self._load(os.path.join(self._root, directory, ".gitignore"), directory)
        return (*chain, rules) if rules is not None else chain

    def root_chain(self) -> Chain:
        """The rules for the root directory itself."""
        chain: Chain = ()
        exclude = self._load(os.path.join(self._root, ".git", "info", "exclude"), "")
        if exclude is not None:
            chain = (exclude,)
        return self.extend(chain, "")

    def chain_for(self, directory: str) -> tuple[Chain, bool]:
        """The rules that apply inside `directory`, and whether it is itself ignored.

        Args:
            directory: a workspace directory path (`""` is the root).
        """
        chain = self.root_chain()
        if not directory:
            return chain, False
        current = ""
        ignored = False
        for name in directory.split("/"):
            current = join(current, name)
            if not ignored and (name == ".git" or is_ignored(chain, current, True)):
                ignored = True
            chain = self.extend(chain, current)
        return chain, ignored
