"""New API clients' secrets and dashboard users' generated passwords, handed over once: to
the controlling terminal when there is one, and to a file only its owner can read under the
data directory — never to the log stream, which `./run.sh > server.log` or a journal keeps
for anyone who can read logs."""

from __future__ import annotations

import os
import shlex
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.cli.context import step

CREDENTIALS_FILE = "credentials.env"
HEADINGS = ("role", "name", "bank/firm", "client_id", "client_secret")


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just created; its secret exists nowhere else (the database keeps a hash)."""

    role: str
    name: str
    code: str | None  # the bank's or the credit firm's code
    client_id: str
    client_secret: str
    prefix: str | None = None  # the variables' prefix, when the role's would repeat one

    @property
    def variable(self) -> str:
        """The shell variable prefix in the credentials file: `prefix` when given, else the bank
        or firm code, else the role (`TZBANK`, `ZXPJ`, `BUREAU`, `ADMIN`); a code starting with
        a digit gets the role in front, so every prefix is a shell name."""
        if self.prefix is not None:
            return self.prefix
        if self.code is None:
            return self.role.upper()
        return self.code if not self.code[0].isdigit() else f"{self.role.upper()}_{self.code}"


def credentials_path(data_dir: Path) -> Path:
    """Where the secrets of clients `innocredit serve` and `demo load` create are kept."""
    return data_dir / CREDENTIALS_FILE


def hand_over(clients: Sequence[NewClient], data_dir: Path, *, made_by: str) -> Path:
    """Append `clients` to the credentials file (mode 0600) and show them on the terminal.

    Call it inside the transaction that creates them: if the file cannot be written, the
    clients are rolled back instead of being created with secrets nobody has.
    """
    path = credentials_path(data_dir)
    _append(path, _file_section(clients, made_by))
    _show_on_terminal(_terminal_block(clients, path))
    step(
        f"{len(clients)} new API client(s): their secrets are in {path} (mode 0600), "
        "not in this output"
    )
    return path


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there already, with looser permissions
    with os.fdopen(fd, "a", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _show_on_terminal(text: str) -> None:
    """Write to the controlling terminal, which no redirection of stdout or stderr captures;
    a process without one (a service, a test) shows nothing and relies on the file."""
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(text)
    except OSError:
        return


def _command() -> str:
    """How the operator ran this command (`.venv/bin/innocredit` from ./run.sh)."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if Path(invoked).name == "innocredit" else "innocredit"


def _remedy() -> str:
    command = _command()
    return (
        f"Lost or leaked a secret: {command} clients rotate-secret CLIENT_ID "
        f"(`{command} clients list` shows the ids).\n"
        f"Another client: {command} clients create --name NAME --role ROLE "
        "[--bank-code CODE | --firm-code CODE]\n"
        'Four eyes (README "Model governance"): rule changes wait for a second operator; give '
        f"another person their own admin client: {command} clients create --name NAME --role admin"
    )


def _file_section(clients: Sequence[NewClient], made_by: str) -> str:
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    lines = [
        f"# {created}: {len(clients)} new API client(s), created by `{made_by}`.",
        "# The secrets are stored nowhere else (the database keeps argon2 hashes). Shell",
        "# syntax: `source` this file to set the variables below (a later section wins).",
        *(f"# {line}" for line in _remedy().splitlines()),
    ]
    for c in clients:
        tenant = f" · {'bank_code' if c.role == 'bank' else 'firm_code'} {c.code}" if c.code else ""
        lines += [
            f"# {c.role} · {c.name}{tenant}",
            f"{c.variable}_CLIENT_ID={shlex.quote(c.client_id)}",
            f"{c.variable}_CLIENT_SECRET={shlex.quote(c.client_secret)}",
        ]
    return "\n".join(lines) + "\n\n"


def _terminal_block(clients: Sequence[NewClient], path: Path) -> str:
    rows = [HEADINGS] + [
        (c.role, c.name, c.code or "-", c.client_id, c.client_secret) for c in clients
    ]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(HEADINGS))]
    table = [
        "  " + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    names = [f"{c.variable}_{part}" for c in clients[:1] for part in ("CLIENT_ID", "CLIENT_SECRET")]
    more = ", …" if len(clients) > 1 else ""
    return "\n".join(
        [
            "",
            f"New API clients: the secrets are shown only now, and kept in {path}",
            f"(mode 0600; `source` it to set {', '.join(names)}{more}):",
            "",
            *table,
            "",
            _remedy(),
            "",
            "",
        ]
    )


def _width(text: str) -> int:
    """Columns `text` takes on a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


# ---------------------------------------------------------------- dashboard users

USER_HEADINGS = ("role", "bank", "user name", "password")


@dataclass(frozen=True, slots=True)
class NewUser:
    """A dashboard user whose password was generated; it exists nowhere else (a hash is kept)."""

    role: str
    name: str
    bank_code: str | None
    password: str

    @property
    def variable(self) -> str:
        """The shell variable prefix: `BUREAU_USER`, or the bank's code (`TZBANK_USER`)."""
        client = NewClient(self.role, self.name, self.bank_code, "", "")
        return f"{client.variable}_USER"


def hand_over_users(users: Sequence[NewUser], data_dir: Path, *, made_by: str) -> Path:
    """Append generated passwords to the credentials file (mode 0600) and show them on the
    terminal, never in the output; call it inside the transaction that creates the users."""
    path = credentials_path(data_dir)
    _append(path, _users_section(users, made_by))
    rows = [USER_HEADINGS] + [(u.role, u.bank_code or "-", u.name, u.password) for u in users]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(USER_HEADINGS))]
    table = [
        "  " + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    _show_on_terminal(
        "\n".join(
            [
                "",
                f"Dashboard users: the passwords are shown only now, and kept in {path}:",
                "",
                *table,
                "",
                "",
            ]
        )
    )
    step(
        f"{len(users)} dashboard user(s): their passwords are in {path} (mode 0600), "
        "not in this output"
    )
    return path


def _users_section(users: Sequence[NewUser], made_by: str) -> str:
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    command = _command()
    lines = [
        f"# {created}: {len(users)} dashboard user(s), created by `{made_by}`.",
        "# They sign in at <gateway>/dashboard/sign-in. The passwords are stored nowhere else",
        "# (the database keeps argon2 hashes).",
        f"# A new one: {command} users set-password NAME [--generate-password]",
    ]
    for u in users:
        bank = f" · bank_code {u.bank_code}" if u.bank_code else ""
        lines += [
            f"# dashboard user · {u.role}{bank}",
            f"{u.variable}_NAME={shlex.quote(u.name)}",
            f"{u.variable}_PASSWORD={shlex.quote(u.password)}",
        ]
    return "\n".join(lines) + "\n\n"
