"""A real PgBouncer in transaction mode in front of a test database (Debian's `pgbouncer`;
`.ci/run` installs it), on a free port of 127.0.0.1, for as long as a `with` block lasts."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.processes import free_port_block

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


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


class Pooler:
    """A running PgBouncer: its client URL, and `repoint` to send new server connections to
    another server (what a Kubernetes Service does for CloudNativePG's pooler on failover)."""

    def __init__(self, url: str, ini: Path, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self._ini = ini
        self._process = process

    def repoint(self, host: str, port: int) -> None:
        """Serve the databases from `host:port` from now on (config reload, SIGHUP)."""
        lines = self._ini.read_text(encoding="utf-8").splitlines()
        lines = [f"* = host={host} port={port}" if ln.startswith("* = ") else ln for ln in lines]
        self._ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._process.send_signal(signal.SIGHUP)


@contextmanager
def transaction_pooler(database_url: str, *, server_connections: int = 4) -> Iterator[str]:
    """Yield the URL of `database_url`'s database through PgBouncer in transaction mode, with
    at most `server_connections` server connections (fewer than a pool of clients, so
    consecutive transactions of one client land on different server connections)."""
    with pooler(database_url, server_connections=server_connections) as running:
        yield running.url


@contextmanager
def pooler(database_url: str, *, server_connections: int = 4) -> Iterator[Pooler]:
    """Run PgBouncer in transaction mode in front of `database_url`'s server."""
    if not os.access(BINARY, os.X_OK):
        raise RuntimeError(
            "PgBouncer is not installed: `apt-get install pgbouncer` (.ci/run does it)"
        )
    url = make_url(database_url)
    host = url.query.get("host") or url.host or "127.0.0.1"
    if isinstance(host, tuple):
        host = host[0]
    port = free_port_block(1)
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
                # After a failover, reach the new server within a second or two rather than
                # PgBouncer's defaults (15 s between failed logins, 15 s to connect, 120 s
                # queued): the services answer 503 meanwhile, and a client retries.
                "server_login_retry = 1",
                "server_connect_timeout = 2",
                "query_wait_timeout = 10",
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
        yield Pooler(pooled.render_as_string(hide_password=False), work / "pgbouncer.ini", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)
