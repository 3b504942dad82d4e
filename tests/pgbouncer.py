"""A real PgBouncer in transaction mode in front of a test database (Debian's `pgbouncer`;
`.ci/run` installs it), on a free port of 127.0.0.1, for as long as a `with` block lasts."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> str | None:
    """PgBouncer refuses to run as root: then it runs as the embedded server's user (or
    nobody)."""
    if os.geteuid() != 0:
        return None
    for name in ("pgserver", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, and neither a pgserver nor a nobody user exists")


@contextmanager
def transaction_pooler(database_url: str, *, server_connections: int = 4) -> Iterator[str]:
    """Yield the URL of `database_url`'s database through PgBouncer in transaction mode, with
    at most `server_connections` server connections (fewer than a pool of clients, so
    consecutive transactions of one client land on different server connections)."""
    if not os.access(BINARY, os.X_OK):
        raise RuntimeError(
            "PgBouncer is not installed: `apt-get install pgbouncer` (.ci/run does it)"
        )
    url = make_url(database_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    if isinstance(host, tuple):
        host = host[0]
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="innocredit-pgbouncer-"))
    user = url.username or "postgres"
    (work / "users.txt").write_text(f'"{user}" ""\n', encoding="utf-8")
    (work / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={host} port={url.port or 5432}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {work / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {server_connections}",
                "max_client_conn = 500",
                f"logfile = {work / 'pgbouncer.log'}",
                f"pidfile = {work / 'pgbouncer.pid'}",
                "",
            ]
        ),
        encoding="utf-8",
    )
    command = [BINARY, str(work / "pgbouncer.ini")]
    run_as = _run_as()
    if run_as is not None:
        account = pwd.getpwnam(run_as)
        work.chmod(0o755)
        for path in (work, *work.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
        command[1:1] = ["-u", run_as]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (work / "pgbouncer.log").read_text(errors="replace")
                        if (work / "pgbouncer.log").exists()
                        else ""
                    )
                    out = process.stdout.read().decode(errors="replace") if process.stdout else ""
                    raise RuntimeError(f"PgBouncer did not start: {out}{log}") from None
                time.sleep(0.05)
        pooled = url.set(host="127.0.0.1", port=port, query={})
        yield pooled.render_as_string(hide_password=False)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)
