"""A PostgreSQL primary and a streaming replica on loopback, made by the test itself with
Debian's PostgreSQL binaries (`initdb`, `pg_ctl`, `pg_basebackup -R`), for as long as a
`with` block lasts. As root the servers run as the `postgres` user (PostgreSQL refuses
root)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.processes import free_port_block

RUN_AS = "postgres"


def _run(command: Sequence[str], *, timeout: float = 120) -> None:
    """Run a PostgreSQL tool, as `postgres` when this process is root."""
    argv = list(command)
    if os.geteuid() == 0:
        argv = ["runuser", "-u", RUN_AS, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}")


@dataclass(frozen=True, slots=True)
class Node:
    """One server of the cluster: its data directory and port on 127.0.0.1."""

    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run(["pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        _run(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"])

    def promote(self) -> None:
        _run(["pg_ctl", "-D", str(self.data), "-w", "promote"])

    def sql(self, statement: str, database: str = "postgres") -> object:
        """Run one statement (autocommit) and return the first column of its first row."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement)
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None


@dataclass(frozen=True, slots=True)
class Cluster:
    primary: Node
    replica: Node


def _owned_dir(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir(mode=0o700)
    if os.geteuid() == 0:
        account = pwd.getpwnam(RUN_AS)
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


@contextmanager
def primary_and_replica(*, synchronous: bool = False) -> Iterator[Cluster]:
    """Start a primary and a hot-standby replica streaming from it; stop both at the end.
    `synchronous`: a commit returns only once the replica has flushed it (so no
    acknowledged commit is lost when the primary dies and the replica is promoted)."""
    root = Path(tempfile.mkdtemp(prefix="innocredit-cluster-"))
    root.chmod(0o755)
    primary = Node(_owned_dir(root, "primary"), free_port_block(1))
    replica = Node(root / "replica", free_port_block(1))
    started: list[Node] = []
    try:
        _run(["initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        with (primary.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {primary.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{primary.data}'\nwal_level = replica\n"
                "max_wal_senders = 5\nhot_standby = on\nmax_connections = 200\n"
                "fsync = off\nfull_page_writes = off\n"
            )
        with (primary.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        primary.start()
        started.append(primary)
        _owned_dir(root, "replica")
        _run(
            [
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(replica.data),
                "-R",
                "-X",
                "stream",
            ]
        )
        with (replica.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(f"\nport = {replica.port}\nunix_socket_directories = '{replica.data}'\n")
        replica.start()
        started.append(replica)
        if synchronous:
            primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
            primary.sql("SELECT pg_reload_conf()")
        yield Cluster(primary, replica)
    finally:
        for node in reversed(started):
            with suppress(RuntimeError):
                node.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
