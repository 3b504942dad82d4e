"""New clients' secrets go to a file only its owner reads, which a shell can `source`."""

from __future__ import annotations

import os
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
