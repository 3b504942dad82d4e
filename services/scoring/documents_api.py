"""The 诊断书 as a document: the PDF answer of the diagnosis route (`Accept:
application/pdf`) and the public check of an issued one,
`GET /v1/scoring/diagnosis-documents/{code}` — the one `/v1` read the gateway's edge lets
through without a token (`services.gateway.edge.PUBLIC_READS`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.scoring.documents import (
    CODE_PATTERN,
    BankName,
    DocumentOut,
    Requester,
    issue,
    verify,
)
from services.scoring.schemas import Diagnosis
from shared.auth.principal import Principal
from shared.clock import now
from shared.db import DbSession
from shared.negotiation import PDF
from shared.openapi import problems
from shared.openapi_headers import with_headers

router = APIRouter(prefix="/v1/scoring", tags=["scoring"])

PDF_HEADERS = ("Content-Disposition", "X-Diagnosis-Document", "Cache-Control")
"""The headers of the diagnosis route's PDF answer (declared with its media type)."""


def base_url(request: Request) -> str:
    """This service's origin as the document prints it: `INNOCREDIT_PUBLIC_URL`, else the
    request's own."""
    public_url: str | None = request.app.state.settings.public_url
    return (public_url or str(request.base_url)).rstrip("/")


def pdf_response(
    request: Request,
    session: DbSession,
    principal: Principal,
    diagnosis: Diagnosis,
    as_of: datetime | None,
) -> Response:
    """Issue a new document of `diagnosis` to `principal` (its row in this request's
    transaction) and answer its bytes. A bank is printed with its name."""
    name = None
    if principal.bank_code is not None:
        bank_name: BankName | None = getattr(request.app.state, "bank_name", None)
        name = None if bank_name is None else bank_name(session, principal.bank_code)
    pdf, row = issue(
        session, diagnosis, Requester.of(principal, name), base_url(request), now(), as_of
    )
    filename = f"diagnosis-{diagnosis.period}-{diagnosis.uscc}.pdf"
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "X-Diagnosis-Document": row.code,
            "Cache-Control": "no-store",
        },
    )


Code = Annotated[
    str,
    Path(
        pattern=CODE_PATTERN,
        description="The verification code printed on the document (hyphens optional, any "
        "case), e.g. 7K3M-9QPT-W2HF-4XDA",
    ),
]
Sha256 = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9A-Fa-f]{64}$",
        description="The SHA-256 of the file in hand (hex): 409 when it is not the issued "
        "document's",
    ),
]


@router.get(
    "/diagnosis-documents/{code}",
    response_model=DocumentOut,
    responses={**problems(404, 409), 200: with_headers("Cache-Control")},
    summary="Check an issued 诊断书 (public: no token)",
    openapi_extra={"security": []},
)
def get_diagnosis_document(
    code: Code, session: DbSession, response: Response, sha256: Sha256 = None
) -> DocumentOut:
    """What the document with this verification code prints: the enterprise, period, model,
    ranking run, when it was issued and to whom, and the SHA-256 and size of its bytes.
    With `?sha256=` of a file: `matches: true`, or 409 `diagnosis-document-mismatch` when
    the file is not the one issued. Anyone may ask (no token), and everyone gets the same
    answer."""
    response.headers["Cache-Control"] = "no-store"
    return verify(session, code, sha256)
