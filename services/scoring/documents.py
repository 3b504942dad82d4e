"""Issuing a 诊断书 as a PDF and checking one: the verification code, the row that records
who asked, and the public answer `GET /v1/scoring/diagnosis-documents/{code}` gives.

A document is issued inside the request's transaction (render → SHA-256 → insert), so a
PDF is never answered without its row, nor a row kept for a PDF that was not sent. Anyone
may check a code, without a token: the answer says only what the document itself prints.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from services.scoring.document_pdf import LAYOUT_VERSION, DocumentMeta, render
from services.scoring.errors import DocumentMismatch, DocumentNotFound
from services.scoring.models import DiagnosisDocument
from services.scoring.schemas import Diagnosis
from shared.auth.principal import Principal
from shared.timestamps import Instant

# Crockford's base32: no I, L, O or U; read back leniently (I and L are 1, O is 0).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PATTERN = r"^[0-9A-Za-z]{4}(-?[0-9A-Za-z]{4}){3}$"
_READ_AS = str.maketrans("ILO", "110")
_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{16}$")
DOCUMENTS_PATH = "/v1/scoring/diagnosis-documents/"
BUREAU = "泰州市科学技术局"

IssuerRole = Literal["bank", "bureau", "admin", "cli"]
BankName = Callable[[Session, str], str | None]
"""A partner bank's name by its code: loans' `bank_name`, which the composition root hands
the scoring app (`app.state.bank_name`) since scoring may not import loans."""


def new_code() -> str:
    """80 random bits as 16 characters of Crockford's base32."""
    number = int.from_bytes(secrets.token_bytes(10), "big")
    return "".join(ALPHABET[(number >> shift) & 31] for shift in range(75, -1, -5))


def grouped(code: str) -> str:
    """The code as printed: four groups of four (`7K3M-9QPT-W2HF-4XDA`)."""
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def read_code(text: str) -> str | None:
    """A code as typed (hyphens or not, any case, I/L for 1 and O for 0) in its stored form,
    or None when it cannot be one."""
    code = text.replace("-", "").upper().translate(_READ_AS)
    return code if _CODE.fullmatch(code) else None


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked for a document, as recorded and as printed on it."""

    client_id: str
    role: IssuerRole
    bank_code: str | None
    printed: str

    @classmethod
    def of(cls, principal: Principal, bank_name: str | None) -> Requester:
        """The caller of a request; a bank is printed with its name and code."""
        if principal.role == "bank" and principal.bank_code is not None:
            name = bank_name or principal.bank_code
            printed = f"查询: {name} ({principal.bank_code})"
            return cls(principal.client_id, "bank", principal.bank_code, printed)
        if principal.role == "admin":
            return cls(principal.client_id, "admin", None, "查询: 系统管理员")
        return cls(principal.client_id, "bureau", None, f"查询: {BUREAU}")

    @classmethod
    def batch(cls) -> Requester:
        """The bureau's batch render (`innocredit diagnosis render`)."""
        return cls("cli", "cli", None, f"{BUREAU} 批量签发")


def check_url(base_url: str, code: str) -> str:
    """Where anyone checks the document (printed on it)."""
    return base_url.rstrip("/") + DOCUMENTS_PATH + grouped(code)


def prepare(
    diagnosis: Diagnosis,
    requester: Requester,
    base_url: str,
    at: datetime,
    as_of: datetime | None = None,
) -> tuple[bytes, DiagnosisDocument]:
    """Render a new document of `diagnosis` and its row (not yet added to a session)."""
    code = new_code()
    meta = DocumentMeta(
        code=grouped(code),
        url=check_url(base_url, code),
        issued_at=at,
        issued_to=requester.printed,
    )
    pdf = render(diagnosis, meta)
    run_id = diagnosis.versions.ranking_run
    if run_id is None:  # a diagnosis is always read from a ranking run
        raise ValueError("a diagnosis without its ranking run cannot be issued")
    row = DiagnosisDocument(
        code=code,
        run_id=run_id,
        uscc=diagnosis.uscc,
        name=diagnosis.name,
        period=diagnosis.period,
        model_version=diagnosis.model_version,
        as_of=as_of,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size_bytes=len(pdf),
        layout_version=LAYOUT_VERSION,
        issued_at=at,
        issued_by=requester.client_id[:40],
        issued_role=requester.role,
        issued_bank_code=requester.bank_code,
        issued_to=requester.printed[:120],
    )
    return pdf, row


def issue(
    session: Session,
    diagnosis: Diagnosis,
    requester: Requester,
    base_url: str,
    at: datetime,
    as_of: datetime | None = None,
) -> tuple[bytes, DiagnosisDocument]:
    """Render and record a new document in the caller's transaction (flushed, so a broken
    row fails here and not after the PDF was sent)."""
    pdf, row = prepare(diagnosis, requester, base_url, at, as_of)
    session.add(row)
    session.flush()
    return pdf, row


class DocumentOut(BaseModel):
    """What an issued 诊断书 prints, as its verification code finds it."""

    code: str = Field(description="the verification code, as printed (four groups of four)")
    uscc: str
    name: str = Field(description="the enterprise's name as printed")
    period: int
    model_version: str
    ranking_run: int = Field(description="the recompute run whose points the document shows")
    as_of: Instant | None = Field(description="the instant the diagnosis was asked as of")
    issued_at: Instant
    issued_to: str = Field(description="who asked, as printed on the document's footer")
    sha256: str = Field(description="SHA-256 of the PDF's bytes (hex)")
    size_bytes: int
    layout_version: str
    matches: bool | None = Field(
        description="true when `?sha256=` was given and equals the document's; null without it"
    )


def verify(session: Session, code: str, sha256: str | None = None) -> DocumentOut:
    """The document issued with `code`: 404 when none was, 409 when `sha256` is given and is
    not its hash (the file was altered)."""
    stored = read_code(code)
    row = None if stored is None else session.get(DiagnosisDocument, stored)
    if row is None:
        raise DocumentNotFound("No diagnosis document was issued with this code")
    if sha256 is not None and sha256.lower() != row.sha256:
        raise DocumentMismatch(
            "This file is not the document issued with this code: its SHA-256 differs",
            extra={"sha256": row.sha256},
        )
    return DocumentOut(
        code=grouped(row.code),
        uscc=row.uscc,
        name=row.name,
        period=row.period,
        model_version=row.model_version,
        ranking_run=row.run_id,
        as_of=row.as_of,
        issued_at=row.issued_at,
        issued_to=row.issued_to,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        layout_version=row.layout_version,
        matches=None if sha256 is None else True,
    )
