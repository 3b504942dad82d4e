"""New clients' secrets go to a file only its owner reads, which a shell can `source`."""

from __future__ import annotations

import os
import pty
import stat
import subprocess
import sys
from pathlib import Path

from services.cli.credentials import NewClient

SCRIPT = """
import sys
from pathlib import Path
from services.cli.credentials import NewClient, hand_over
hand_over(
    [
        NewClient("admin", "bootstrap admin", None, "ic_a", "s3cret-A_1"),
        NewClient("bank", "泰州银行 loan system", "TZBANK", "ic_b", "s3cret-B_2"),
        NewClient("bank", "某银行", "1BANK", "ic_c", "s3cret-C_3"),
    ],
    Path(sys.argv[1]),
    made_by="test",
)
"""


def test_the_file_is_private_sourceable_and_appended_to(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    path = data_dir / "credentials.env"
    path.write_text("# an older section\nADMIN_CLIENT_ID=ic_old\n")
    path.chmod(0o644)
    done = subprocess.run(  # no controlling terminal: the file is the only hand-over
        [sys.executable, "-c", SCRIPT, str(data_dir)],
        capture_output=True,
        text=True,
        start_new_session=True,
        check=True,
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret" not in done.stdout + done.stderr
    assert str(path) in done.stderr
    text = path.read_text()
    assert text.startswith("# an older section\nADMIN_CLIENT_ID=ic_old\n")
    assert "# bank · 泰州银行 loan system · bank_code TZBANK" in text
    echo = 'echo "$ADMIN_CLIENT_ID $TZBANK_CLIENT_SECRET $BANK_1BANK_CLIENT_ID"'
    shown = subprocess.run(
        ["bash", "-c", f'source "{path}"; {echo}'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert shown.stdout.split() == ["ic_a", "s3cret-B_2", "ic_c"]  # the later section wins


def test_variable_names_are_shell_names() -> None:
    assert NewClient("bureau", "局", None, "i", "s").variable == "BUREAU"
    assert NewClient("credit_firm", "f", "ZXPJ", "i", "s").variable == "ZXPJ"
    assert NewClient("bank", "b", "9BANK", "i", "s").variable == "BANK_9BANK"


def test_a_terminal_shows_the_block_once_and_the_output_streams_never_the_secrets(
    tmp_path: Path,
) -> None:
    """Run where an operator runs `./run.sh > server.log`: a controlling terminal (a pseudo-
    terminal here) and stdout/stderr redirected to a file. The table of new clients reaches the
    terminal, with headings, each client's bank or firm code and what to do if a secret is
    lost; the redirected streams get the file's path only."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    log = tmp_path / "server.log"
    pid, master = pty.fork()  # the child's controlling terminal is the pty
    if pid == 0:  # the child: stdout and stderr to the log, as with `> server.log 2>&1`
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execv(sys.executable, [sys.executable, "-c", SCRIPT, str(data_dir)])  # noqa: S606
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child exited and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, log.read_text()
    terminal = shown.decode().replace("\r\n", "\n")
    lines = terminal.splitlines()
    heading = next(line for line in lines if line.split()[:2] == ["role", "name"])
    assert heading.split() == ["role", "name", "bank/firm", "client_id", "client_secret"]
    rows = [line.split() for line in lines if "ic_" in line]
    assert ["bank", "泰州银行", "loan", "system", "TZBANK", "ic_b", "s3cret-B_2"] in rows
    assert ["admin", "bootstrap", "admin", "-", "ic_a", "s3cret-A_1"] in rows
    assert terminal.count("s3cret-B_2") == 1  # once
    assert str(data_dir / "credentials.env") in terminal
    assert "clients rotate-secret CLIENT_ID" in terminal
    written = log.read_text()
    assert "s3cret" not in written
    assert str(data_dir / "credentials.env") in written
