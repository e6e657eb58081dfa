"""Confinement: every command runs under bubblewrap (`bwrap`), the way Flatpak runs apps.

Inside, the whole host is mounted read-only; the session's sandbox copy is mounted
read-write *at the real root's path* (so absolute paths and tool configs work and
the real tree is simply not there); the real `.git` is mounted read-only on top
(git reads work, writes fail with git's own message). The command gets a private
`/tmp` and `/run`, its own PID namespace and `/proc` (Tiller and its environment
are invisible), no capabilities (nothing can be unmounted), no network unless the
user turned it on, and `--die-with-parent`: when the command ends, is stopped, or
Tiller dies, every process it started goes with it.

Tiller's own data and config directories and the usual credential files under the
home directory are hidden (empty) inside. Where `bwrap` is missing or cannot create
namespaces the shell tool is not offered (`problem()` says why); only the user's
own config may opt out with `[shell] sandbox = "none"`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

INSTALL_HINT = "apt-get install bubblewrap"
"""How to install bwrap on Debian and Ubuntu (the one line a user is shown)."""

SANDBOX_MODES = ("bwrap", "none")
"""`[shell] sandbox`: `bwrap` confines every command; `none` runs them unconfined."""

CREDENTIAL_PATHS: tuple[str, ...] = (
    ".ssh",
    ".aws",
    ".azure",
    ".gnupg",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".docker",
    ".kube",
    ".config/gh",
    ".config/gcloud",
    ".config/hub",
    ".local/share/keyrings",
    ".config/git/credentials",
    ".password-store",
    ".pgpass",
    ".my.cnf",
    ".vault-token",
    ".s3cfg",
    ".boto",
    ".oci",
    ".gem/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".terraform.d/credentials.tfrc.json",
    ".terraformrc",
    ".huggingface",
    ".cache/huggingface/token",
    ".config/pip",
    ".pip",
    ".m2/settings.xml",
    ".config/op",
    ".config/rclone",
    ".config/github-copilot",
    # Other coding agents' logins.
    ".claude",
    ".claude.json",
    ".codex",
    ".gemini",
    # Shell and REPL history: `export OPENAI_API_KEY=...` typed once stays there.
    ".bash_history",
    ".zsh_history",
    ".histfile",
    ".local/share/fish/fish_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".sqlite_history",
)
"""Paths under the home directory hidden from commands: keys a command could print."""

_NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts")
_ALWAYS = (
    "--die-with-parent",
    "--new-session",
    *_NAMESPACES,
    "--unshare-cgroup-try",
    "--disable-userns",
    "--cap-drop",
    "ALL",
)


class ConfinementError(Exception):
    """A command cannot be confined (for example: the workspace root is `/`)."""


@dataclass(frozen=True, slots=True)
class Confinement:
    """How one session's commands are confined.

    Attributes:
        root: the real workspace root; the sandbox copy appears at this path.
        sandbox: the sandbox copy (bound read-write at `root`).
        network: let commands reach the network.
        hidden: directories and files whose content commands must not see
            (Tiller's data and config directories); hidden when they exist.
        home: the home directory whose `CREDENTIAL_PATHS` are hidden.
        other_homes: other users' home directories whose `CREDENTIAL_PATHS` are hidden
            too (by default every home in the user database when Tiller runs as root,
            who can read them all; none otherwise).
    """

    root: Path
    sandbox: Path
    network: bool = False
    hidden: tuple[Path, ...] = ()
    home: Path | None = field(default_factory=Path.home)
    other_homes: tuple[Path, ...] = field(default_factory=lambda: _homes_root_can_read())

    def argv(self, command: str, cwd: str = "", info_fd: int | None = None) -> list[str]:
        """The bwrap argv that runs `command` with bash in `cwd` (relative to the root).

        With `info_fd`, bwrap writes the sandbox's PID 1 there (`--info-fd`), so the
        caller can wait until the whole namespace is gone (see `process.run_command`).

        Raises:
            ConfinementError: the root is `/`: the sandbox would replace the whole host.
        """
        given = Path(os.path.abspath(self.root))
        # bwrap cannot mount at a path through a symlink: mount at the real path; the
        # given one still leads there (and is where the command starts).
        root = Path(os.path.realpath(given))
        if root == Path("/"):
            raise ConfinementError(
                "The workspace root is / : commands cannot be confined there. "
                "Start Tiller in a project directory."
            )
        args = ["bwrap", *_ALWAYS]
        if not self.network:
            args.append("--unshare-net")
        # The host read-only, then fresh /dev, /proc (this PID namespace only), /tmp, /run
        # (/run holds sockets such as docker.sock that a read-only mount does not guard).
        args += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        args += ["--tmpfs", "/tmp", "--tmpfs", "/dev/shm", "--tmpfs", "/run"]
        resolv = os.path.realpath("/etc/resolv.conf")
        if self.network and resolv.startswith("/run/") and os.path.isfile(resolv):
            args += ["--ro-bind", resolv, resolv]
        for path in self._hidden(root):
            if path.is_dir():
                args += ["--tmpfs", str(path)]
            elif path.exists():
                args += ["--ro-bind", "/dev/null", str(path)]
        args += ["--bind", str(self.sandbox), str(root)]
        git_paths = _git_paths(root)
        for path in git_paths:
            args += ["--ro-bind", str(path), str(path)]
        scratch = Path(os.path.realpath(self.sandbox)).parent
        # One inside the root is the copy's own file (a mount point there would come back).
        more = [p for p in self._global_git_configs() if not _inside(p.resolve(), root)]
        for config, clean in _clean_git_configs(git_paths, scratch, more):
            args += ["--ro-bind", str(clean), str(config)]
        if info_fd is not None:
            args += ["--info-fd", str(info_fd)]
        target = given / cwd if cwd else given
        args += ["--chdir", str(target), "--", "bash", "-c", command]
        return args

    def _candidates(self) -> list[Path]:
        candidates = list(self.hidden)
        if self.home is not None:
            candidates += [self.home / name for name in CREDENTIAL_PATHS]
            candidates += _moved_xdg_paths(self.home)
        for home in self.other_homes:
            if home != self.home:
                candidates += _present_credential_paths(home)
        candidates += system_secret_files()
        return candidates

    def _global_git_configs(self) -> list[Path]:
        """The user's and the system's git config files (where CI keeps `insteadOf` tokens)."""
        found = [Path("/etc/gitconfig")]
        if self.home is not None:
            config_home = os.environ.get("XDG_CONFIG_HOME") or str(self.home / ".config")
            found += [self.home / ".gitconfig", Path(config_home, "git", "config")]
        return [path for path in found if path.is_file()]

    def left_out_of_the_copy(self) -> list[str]:
        """What to hide that lies inside the root, as paths relative to it (`.ssh` when the
        root is the home directory): the sandbox copy must not hold them."""
        root = Path(os.path.realpath(os.path.abspath(self.root)))
        out: list[str] = []
        for given in self._candidates():
            path = Path(os.path.realpath(given))
            if path != root and _inside(path, root):
                out.append(path.relative_to(root).as_posix())
        return out

    def _hidden(self, root: Path) -> list[Path]:
        """Paths to hide: Tiller's own, credential files, and where other sandboxes live."""
        candidates = self._candidates()
        parent = Path(os.path.realpath(self.sandbox)).parent.parent
        if not _inside(parent, Path("/tmp")):
            candidates.append(parent)  # other sessions' sandboxes (a TMPDIR outside /tmp)
        out: list[Path] = []
        for given in candidates:
            path = Path(os.path.realpath(given))  # bwrap mounts only at link-free paths
            # Inside the root, the command sees the sandbox copy, which leaves these out
            # (`left_out_of_the_copy`); a mount point there would come back as a file.
            if _inside(path, root) or _inside(path, Path("/tmp")) or path in out:
                continue
            out.append(path)
        # An ancestor of the root is hidden before the root is bound, so it stays visible.
        return out


SYSTEM_SECRET_PATTERNS: tuple[str, ...] = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/security/opasswd",
    "/etc/ssh/ssh_host_*_key",
)
"""Host files holding password hashes and host keys: readable by root, whose commands
(an unasked `cat /etc/shadow`) would hand them to the model."""


def system_secret_files() -> list[Path]:
    """The `SYSTEM_SECRET_PATTERNS` files this process can read (so must hide)."""
    found = [Path(path) for pattern in SYSTEM_SECRET_PATTERNS for path in glob.glob(pattern)]
    return [path for path in found if os.access(path, os.R_OK)]


def _present_credential_paths(home: Path) -> list[Path]:
    """`CREDENTIAL_PATHS` under `home` whose first part is there: one directory listing
    per home instead of a look-up per path (root sees many homes, on every command)."""
    try:
        names = set(os.listdir(home))
    except OSError:
        return []
    return [home / name for name in CREDENTIAL_PATHS if name.split("/", 1)[0] in names]


def _homes_root_can_read() -> tuple[Path, ...]:
    """Every user's home directory when this process is root; none otherwise."""
    if os.geteuid() != 0:
        return ()
    try:
        homes = {Path(entry.pw_dir) for entry in pwd.getpwall() if entry.pw_dir.startswith("/")}
    except OSError:
        return ()
    system = ("/bin", "/sbin", "/dev", "/usr", "/proc", "/sys", "/lib", "/etc", "/nonexistent")
    return tuple(
        sorted(
            home
            for home in homes
            if home != Path("/") and not str(home).startswith(system) and home.is_dir()
        )
    )


_XDG_DIRS = (
    ("XDG_CONFIG_HOME", ".config/"),
    ("XDG_DATA_HOME", ".local/share/"),
    ("XDG_CACHE_HOME", ".cache/"),
)


def _moved_xdg_paths(home: Path) -> list[Path]:
    """`CREDENTIAL_PATHS` under `~/.config` (and the like) where XDG variables moved them."""
    out: list[Path] = []
    for variable, default in _XDG_DIRS:
        moved = os.environ.get(variable, "")
        if not os.path.isabs(moved) or Path(moved) == home / default.rstrip("/"):
            continue
        names = [n.removeprefix(default) for n in CREDENTIAL_PATHS if n.startswith(default)]
        out += [Path(moved, name) for name in names]
    return out


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _git_paths(root: Path) -> list[Path]:
    """The real `.git` and, for a worktree, the git directories its pointer file names."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return [dot_git]
    if not dot_git.is_file():
        return []
    paths = [dot_git]
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return paths
    for line in text.splitlines():
        if line.startswith("gitdir:"):
            gitdir = (root / line.split(":", 1)[1].strip()).resolve()
            if _inside(gitdir, root) or _inside(gitdir, Path("/tmp")):
                paths.append(gitdir)
    return paths


_GIT_SECRET_LINE = re.compile(r"^\s*(?:\S*extraheader|\S*password|\S*token)\s*=", re.IGNORECASE)
"""Config lines whose value is a credential (`http.extraheader = AUTHORIZATION: basic ...`)."""


def _clean_git_configs(
    git_paths: list[Path], scratch: Path, more: list[Path]
) -> list[tuple[Path, Path]]:
    """`(config, copy)` for each git config (the repository's and `more`) that holds a
    credential: the copy, written in `scratch` (outside what commands see), has it
    replaced by `[redacted]`.

    A remote URL with a token, or the `extraheader` actions/checkout leaves, would
    otherwise be one `cat .git/config` away.
    """
    from tiller.redaction import REDACTED, redact_urls

    configs: list[Path] = []
    for given in git_paths:
        path = given
        if given.is_file():  # a worktree's pointer: its git directory may lie anywhere
            with contextlib.suppress(OSError):
                line = given.read_text(encoding="utf-8").splitlines()[0]
                path = (given.parent / line.removeprefix("gitdir:").strip()).resolve()
        if not path.is_dir():
            continue
        configs.append(path / "config")
        with contextlib.suppress(OSError):  # a worktree's settings live in the common dir
            common = (path / "commondir").read_text(encoding="utf-8").strip()
            configs.append((path / common / "config").resolve())
    configs += more
    out: list[tuple[Path, Path]] = []
    for number, config in enumerate(dict.fromkeys(configs)):
        try:
            text = config.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        lines = [
            line.split("=", 1)[0] + f"= {REDACTED}" if _GIT_SECRET_LINE.match(line) else line
            for line in redact_urls(text).splitlines()
        ]
        clean = "\n".join(lines) + "\n"
        if clean.rstrip("\n") == text.rstrip("\n"):
            continue
        copy = scratch / f"git-config-{number}"
        with contextlib.suppress(OSError):
            copy.write_text(clean, encoding="utf-8", errors="surrogateescape")
            out.append((config, copy))
    return out


def unconfined_argv(command: str) -> list[str]:
    """The argv of a command run without confinement (`[shell] sandbox = "none"`)."""
    return ["bash", "-c", command]


@cache
def problem() -> str | None:
    """Why commands cannot be confined on this machine, in one line; None when they can.

    Probed once per process: bwrap must exist and create its namespaces.
    """
    if shutil.which("bwrap") is None:
        return (
            "The shell tool is off: bubblewrap (bwrap), which confines commands, is not "
            f"installed. Install it with `{INSTALL_HINT}`."
        )
    with tempfile.TemporaryDirectory(prefix="tiller-probe-") as where:
        tree = Path(where, "tree")
        tree.mkdir()
        argv = Confinement(root=Path(where, "root"), sandbox=tree, home=None).argv("true")
        try:
            done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"The shell tool is off: bwrap could not run ({exc})."
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit code {done.returncode}"
        return (
            f"The shell tool is off: bwrap cannot create its namespaces here ({detail}). "
            "Enable unprivileged user namespaces, or run where they are allowed."
        )
    return None


def unavailable(sandbox_mode: str) -> str | None:
    """Why a session with `sandbox_mode` gets no shell tool; None when it gets one."""
    return None if sandbox_mode == "none" else problem()


_SECRET_FILES: list[Path] = []
"""Files this process read secrets from (`--env-file`): hidden from every command."""


def hide(path: str | Path) -> None:
    """Hide `path` from every command this process confines from now on (a `.env` file)."""
    resolved = Path(os.path.abspath(path))
    if resolved not in _SECRET_FILES:
        _SECRET_FILES.append(resolved)


CREDENTIAL_VARIABLES: tuple[str, ...] = (
    "KUBECONFIG",
    "DOCKER_CONFIG",
    "NETRC",
    "PGPASSFILE",
    "GNUPGHOME",
    "PASSWORD_STORE_DIR",
    "CLOUDSDK_CONFIG",
    "AZURE_CONFIG_DIR",
    "GH_CONFIG_DIR",
    "BOTO_CONFIG",
)
"""Variables that name where credentials live; so does any variable named like a secret
(`GOOGLE_APPLICATION_CREDENTIALS`, `AWS_SHARED_CREDENTIALS_FILE`)."""


def credential_files(environ: Mapping[str, str]) -> list[Path]:
    """The existing absolute paths that credential variables in `environ` name."""
    from tiller.shell.environment import is_secret

    found: list[Path] = []
    for name, value in environ.items():
        named_dir = name in CREDENTIAL_VARIABLES
        if not named_dir and not is_secret(name):
            continue
        for part in value.split(os.pathsep):  # KUBECONFIG is a list
            if not os.path.isabs(part):
                continue
            # A secret-named variable hides only a file: one naming `/usr` must not empty it.
            if os.path.isfile(part) or (named_dir and _narrow_dir(Path(part))):
                found.append(Path(part))
    return found


def _narrow_dir(path: Path) -> bool:
    """A directory deep enough to hide whole (`~/.kube`, not `/home` or the home itself)."""
    return path.is_dir() and len(path.resolve().parts) > 2 and path.resolve() != Path.home()


def hidden_paths(
    extra: Iterable[str | Path] = (), environ: Mapping[str, str] | None = None
) -> tuple[Path, ...]:
    """What commands must not read: Tiller's data and config dirs, env files it loaded,
    files credential variables name (in `environ`, default `os.environ`), and `extra`."""
    from tiller.journal import data_dir
    from tiller.settings import user_config_path

    named = credential_files(os.environ if environ is None else environ)
    return (
        data_dir(),
        user_config_path().parent,
        *_SECRET_FILES,
        *named,
        *(Path(p) for p in extra),
    )


def describe(sandbox_mode: str, network: bool) -> str:
    """One line on how commands are confined, for doctor and the status line."""
    if sandbox_mode == "none":
        return 'UNCONFINED: commands run directly on this machine ([shell] sandbox = "none")'
    net = "network on" if network else "network off"
    return f"bwrap sandbox, {net}"
