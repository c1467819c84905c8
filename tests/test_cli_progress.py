"""Progress lines: on a terminal (a tmux pane) Ceph's ``Importing image: N% complete...`` rewritten in place and
ending ``...done.``; nothing when stderr is a pipe or with --no-progress."""
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest

from cli_helpers import command, pool, run  # noqa: F401

MiB = 1 << 20
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/install-deps.sh)")


class Pane:
    """A private tmux server with one pane whose raw output is logged."""

    def __init__(self, tmp_path):
        self.socket = str(tmp_path / "tmux.sock")
        self.log = tmp_path / "pane.log"
        self.tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "40", "sh")
        self.tmux("pipe-pane", "-t", "t", "-o", f"cat >> {shlex.quote(str(self.log))}")

    def tmux(self, *argv) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *argv], check=True, capture_output=True, text=True,
                              timeout=30).stdout

    def run(self, script: str, done: str, timeout: float = 120) -> None:
        """Type ``sh script`` into the pane and wait until it creates ``done``."""
        self.tmux("send-keys", "-t", "t", f"sh {shlex.quote(script)}", "Enter")
        deadline = time.monotonic() + timeout
        while not os.path.exists(done):
            assert time.monotonic() < deadline, self.screen()
            time.sleep(0.1)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def pane(tmp_path):
    p = Pane(tmp_path)
    yield p
    p.close()


def shell_script(path, daemon, lines, done):
    env = daemon.env()
    exports = "".join(f"export {k}={shlex.quote(env[k])}\n" for k in ("PYTHONPATH", "CURVERBD_SOCKET", "PATH"))
    body = "".join(" ".join(shlex.quote(a) for a in command(argv)) + "\n" for argv in lines)
    path.write_text(exports + body + f"touch {shlex.quote(done)}\n")
    return str(path)


def test_progress_on_a_terminal_and_not_in_a_pipe(daemon, pool, tmp_path, pane):
    src = tmp_path / "full.raw"
    src.write_bytes(os.urandom(64 * MiB))      # all data: one progress step per 4 MiB chunk
    done = str(tmp_path / "done")
    script = shell_script(tmp_path / "run.sh", daemon, [
        ["rbd", "import", str(src), "vms/img"],
        ["rbd", "export", "vms/img", str(tmp_path / "back.raw")],
        ["rbd", "import", "--no-progress", str(src), "vms/quiet"],
    ], done)
    pane.run(script, done)

    raw = pane.log.read_bytes().decode(errors="replace")
    steps = [int(p) for p in re.findall(r"\rImporting image: (\d+)% complete\.\.\.", raw)]
    assert len(steps) >= 10 and steps == sorted(steps) and steps[0] == 0, steps
    assert "Importing image: 100% complete...done." in raw
    assert "Exporting image: 100% complete...done." in raw
    assert raw.count("Importing image: 100% complete...done.") == 1      # --no-progress printed nothing
    screen = pane.screen()
    assert "Importing image: 100% complete...done." in screen.splitlines()
    assert (tmp_path / "back.raw").read_bytes() == src.read_bytes()

    # the same commands with stderr piped print no progress at all
    piped = run(daemon, "rbd", "import", str(src), "vms/piped")
    assert piped.stderr == ""
    assert run(daemon, "rbd", "export", "vms/piped", str(tmp_path / "piped.raw")).stderr == ""


def test_failure_ends_the_line_with_failed(daemon, pool, tmp_path, pane):
    done = str(tmp_path / "done")
    script = shell_script(tmp_path / "fail.sh", daemon, [["rbd", "rm", "vms/missing"]], done)
    pane.run(script, done)
    raw = pane.log.read_bytes().decode(errors="replace")
    assert "Removing image: 0% complete...failed." in raw
    assert "rbd: delete error: (2) No such file or directory" in raw
