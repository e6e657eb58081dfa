"""What a confined command can reach: not Tiller's secrets, sockets, or the network (unless on)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiller.approvals import Approval, ApprovalPolicy, Decision
from tiller.errors import ToolError
from tiller.shell.confinement import Confinement, ConfinementError
from tiller.shell.runner import ShellRunner, ShellSettings
from tiller.workspace import Workspace


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside /tmp (which the sandbox hides wholesale)."""
    where = Path(tempfile.mkdtemp(prefix="tiller-outside-", dir="/var/tmp"))
    yield where
    shutil.rmtree(where, ignore_errors=True)


def run(tmp_path: Path, command: str, **settings: object) -> str:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    runner = ShellRunner(
        Workspace(root=root),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path, **settings),  # type: ignore[arg-type]
    )
    try:
        return runner.run(
            command,
            timeout_ms=20_000,
            description="",
            cancel=threading.Event(),
            on_output=lambda _: None,
        )
    finally:
        runner.close()


def test_tiller_data_dir_is_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journals in Tiller's data directory are not readable by a command."""
    (outside / "sessions").mkdir()
    (outside / "sessions" / "journal.jsonl").write_text("sk-journal-secret\n")
    monkeypatch.setenv("TILLER_DATA_DIR", str(outside))
    out = run(tmp_path, f"cat {outside}/sessions/journal.jsonl; ls -A {outside}")
    assert "sk-journal-secret" not in out


def test_credential_files_are_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~/.ssh and ~/.netrc read as empty inside."""
    (outside / ".ssh").mkdir()
    (outside / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    (outside / ".netrc").write_text("machine x password hunter2\n")
    monkeypatch.setenv("HOME", str(outside))
    out = run(tmp_path, "cat ~/.ssh/id_ed25519 ~/.netrc 2>&1")
    assert ("PRIVATE KEY" in out, "hunter2" in out) == (False, False)


@pytest.mark.parametrize(
    "name",
    [
        ".claude/.credentials.json",
        ".codex/auth.json",
        ".gemini/oauth_creds.json",
        ".pgpass",
        ".bash_history",
        ".cache/huggingface/token",
        ".cargo/credentials.toml",
        ".config/git/credentials",
        ".vault-token",
    ],
)
def test_more_credential_files_are_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Other agents' logins, tokens and shell history under the home read as empty."""
    (outside / name).parent.mkdir(parents=True, exist_ok=True)
    (outside / name).write_text("sk-credential-in-home-7781\n")
    monkeypatch.setenv("HOME", str(outside))
    out = run(tmp_path, f"cat ~/{name} 2>&1")
    assert "sk-credential-in-home-7781" not in out


@pytest.mark.parametrize("name", ["GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG"])
def test_credential_file_a_variable_names_is_hidden(
    tmp_path: Path, outside: Path, name: str
) -> None:
    """A key file named by the environment (outside the home) reads as empty inside."""
    key_file = outside / "service-account.json"
    key_file.write_text('{"private_key": "sk-named-by-a-variable-3141"}\n')
    out = run(tmp_path, f"cat {key_file} 2>&1", environ={**os.environ, name: str(key_file)})
    assert "sk-named-by-a-variable-3141" not in out


def test_credential_files_under_xdg_config_home_are_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gh`'s token under a moved XDG_CONFIG_HOME reads as empty, as under ~/.config."""
    (outside / "gh").mkdir()
    (outside / "gh" / "hosts.yml").write_text("oauth_token: gho_moved-config-home-1618\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(outside))
    out = run(tmp_path, f"cat {outside}/gh/hosts.yml 2>&1")
    assert "gho_moved-config-home-1618" not in out


def test_credential_files_are_hidden_when_the_root_is_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started in the home directory, the sandbox copy still holds no ~/.ssh key."""
    home = tmp_path / "root"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY home-as-root-2236\n")
    monkeypatch.setenv("HOME", str(home))
    out = run(tmp_path, "cat ~/.ssh/id_ed25519 2>&1")
    assert "home-as-root-2236" not in out


def test_credentials_in_the_git_config_are_hidden(tmp_path: Path) -> None:
    """A token in `.git/config` (a remote URL, actions/checkout's extraheader) is not readable;
    git still works."""
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    with (root / ".git" / "config").open("a") as config:
        config.write('[remote "origin"]\n\turl = https://x:tok-in-url-4417@example.com/r.git\n')
        config.write('[http "https://example.com/"]\n')
        config.write("\textraheader = AUTHORIZATION: basic hdr-5521\n")
    out = run(tmp_path, "cat .git/config; git remote -v; git status --short && echo git-ok")
    assert ("tok-in-url-4417" in out, "hdr-5521" in out, "git-ok" in out) == (False, False, True)


def test_credentials_in_a_worktrees_git_config_are_hidden(tmp_path: Path, outside: Path) -> None:
    """A worktree's remote token (in the main repository's config, elsewhere) is not readable."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(outside / "main")], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "i"], cwd=outside / "main")
    with (outside / "main" / ".git" / "config").open("a") as config:
        config.write('[remote "origin"]\n\turl = https://x:tok-worktree-6060@example.com/r\n')
    root = tmp_path / "root"
    subprocess.run([*git, "worktree", "add", "-q", str(root)], cwd=outside / "main", check=True)
    out = run(tmp_path, "git remote -v")
    assert ("tok-worktree-6060" in out, "origin" in out) == (False, True)


def test_credentials_in_the_global_git_config_are_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token in ~/.gitconfig (an `insteadOf` URL, as CI sets up for private modules) is
    not readable."""
    (outside / ".gitconfig").write_text(
        '[url "https://x:tok-global-8080@github.com/"]\n\tinsteadOf = https://github.com/\n'
    )
    monkeypatch.setenv("HOME", str(outside))
    out = run(tmp_path, "cat ~/.gitconfig; git config --global --list 2>&1")
    assert ("tok-global-8080" in out, "insteadof=https://github.com/" in out) == (False, True)


def test_env_file_the_user_named_is_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `--env-file` Tiller loaded its keys from reads as empty inside."""
    from tiller.settings import load_env_file

    env_file = outside / "keys.env"
    env_file.write_text("TILLER_TEST_ENV_FILE_KEY=sk-from-the-env-file-0451\n")
    monkeypatch.setenv("TILLER_TEST_ENV_FILE_KEY", "set")  # so loading leaves os.environ alone
    load_env_file(env_file)
    out = run(tmp_path, f"cat {env_file} 2>&1")
    assert "sk-from-the-env-file-0451" not in out


@pytest.mark.skipif(not os.access("/run", os.W_OK), reason="needs to create a socket in /run")
def test_sockets_under_run_are_unreachable(tmp_path: Path) -> None:
    """A Unix socket in /run (docker.sock's home) cannot be connected to."""
    path = f"/run/tiller-test-{os.getpid()}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    try:
        script = f"import socket; socket.socket(socket.AF_UNIX).connect({path!r}); print('IN')"
        out = run(tmp_path, f'python3 -c "{script}" 2>&1 | tail -1')
    finally:
        server.close()
        os.unlink(path)
    assert ("IN" in out.split("Output:")[1], "No such file" in out) == (False, True)


def test_network_on_reaches_a_local_server(tmp_path: Path) -> None:
    """With network on, a server on 127.0.0.1 outside is reachable (the switch works)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        script = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)"
        out = run(tmp_path, f'python3 -c "{script}" && echo CONNECTED', network=True)
    finally:
        server.close()
    assert "CONNECTED" in out


def test_root_of_the_filesystem_is_refused(tmp_path: Path) -> None:
    """A workspace rooted at / cannot be confined; the command does not run."""
    with pytest.raises(ConfinementError, match="root is /"):
        Confinement(root=Path("/"), sandbox=tmp_path).argv("true")


def test_unconfined_mode_says_so(tmp_path: Path) -> None:
    """With sandbox = "none" every result starts by saying the command ran unconfined."""
    assert run(tmp_path, "true", sandbox="none").startswith("UNCONFINED")


def test_unconfined_mode_still_filters_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even unconfined, the command's own environment holds no keys."""
    monkeypatch.setenv("SOME_API_KEY", "sk-unconfined-secret")
    assert "sk-unconfined-secret" not in run(tmp_path, "env", sandbox="none")


def test_without_bwrap_there_is_no_shell_tool(tmp_path: Path) -> None:
    """Where bwrap is not on PATH the session offers no shell and says how to install it."""
    script = (
        "from tiller import Session, SessionConfig\n"
        "from tiller.testing.scripted import ScriptedModel\n"
        "import sys\n"
        "s = Session(ScriptedModel([]), root=sys.argv[1], skills_dirs=[],"
        " config=SessionConfig(shell=True))\n"
        "print('shell' in s.registry)\n"
        "print(s.shell_unavailable)\n"
    )
    empty = tmp_path / "bin"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": str(empty)},
        check=True,
    )
    offered, notice = done.stdout.splitlines()
    assert (offered, "apt-get install bubblewrap" in notice) == ("False", True)


def test_refused_root_is_an_error_result(tmp_path: Path) -> None:
    """Through the runner, a root of / is a tool error, not a crash."""
    runner = ShellRunner(
        Workspace(root=Path("/")),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    try:
        with pytest.raises(ToolError, match="root is /"):
            runner.run(
                "true",
                timeout_ms=1000,
                description="",
                cancel=threading.Event(),
                on_output=lambda _: None,
            )
    finally:
        runner.close()


def test_root_reached_through_a_symlink(tmp_path: Path, outside: Path) -> None:
    """A project opened through a symlinked path runs there, and its real files stay put."""
    (outside / "proj").mkdir()
    (outside / "proj" / "a.txt").write_text("real\n")
    link = outside / "link"
    link.symlink_to(outside)
    runner = ShellRunner(
        Workspace(root=link / "proj"),
        policy=ApprovalPolicy("allow"),
        ask=lambda _: Approval(Decision.ALLOW),
        settings=ShellSettings(sandbox_parent=tmp_path),
    )
    try:
        out = runner.run(
            f"cat a.txt && echo new > {outside}/proj/a.txt && pwd",
            timeout_ms=20_000,
            description="",
            cancel=threading.Event(),
            on_output=lambda _: None,
        )
    finally:
        runner.close()
    assert (
        out.split("Output:\n")[1].splitlines()[:2],
        (outside / "proj" / "a.txt").read_text(),
    ) == (
        ["real", f"{link}/proj"],
        "real\n",
    )


@pytest.mark.skipif(os.geteuid() != 0 or not os.access("/etc/shadow", os.R_OK), reason="needs root")
def test_root_cannot_read_the_password_hashes(tmp_path: Path) -> None:
    """Run as root, a command (`cat /etc/shadow` runs unasked) does not see /etc/shadow."""
    out = run(tmp_path, "cat /etc/shadow 2>&1; echo done")
    assert ("root:" in out, "done" in out) == (False, True)


def test_other_users_credential_files_are_hidden(tmp_path: Path, outside: Path) -> None:
    """Another user's ~/.ssh (which root can read) reads as empty inside."""
    (outside / ".ssh").mkdir()
    (outside / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    root = tmp_path / "root"
    copy = tmp_path / "copy"
    root.mkdir()
    copy.mkdir()
    confinement = Confinement(root=root, sandbox=copy, home=None, other_homes=(outside,))
    done = subprocess.run(
        confinement.argv(f"cat {outside}/.ssh/id_ed25519 2>&1; echo done"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ("PRIVATE KEY" in done.stdout, "done" in done.stdout) == (False, True)
