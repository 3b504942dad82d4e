"""The 诊断书 as a PDF and its verification: what poppler reads out of the document equals the
JSON diagnosis, page 1 renders, equal inputs give equal bytes, characters the font cannot
carry become 〓 without garbling the rest, and the public check accepts the issued bytes and
refuses altered ones."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from services.scoring.document_pdf import DocumentMeta, render
from services.scoring.documents import grouped, new_code, read_code
from services.scoring.models import DiagnosisDocument
from services.scoring.pdf_canvas import MISSING, NO_END, NO_START, printable, wrap
from services.scoring.schemas import Diagnosis
from tests.factories import Factory, bearer, enterprise, indicators, new_uscc
from tests.pdf_tools import page_png, pages_of, text_of

PDF = {"Accept": "application/pdf"}
STRANGE_NAME = "泰州𠀀·榕兴医疗用品股份有限公司"


@dataclass(frozen=True)
class World:
    period: int
    usccs: list[str]
    bank: str
    bank_token: str


@pytest.fixture(scope="module")
def world(factory: Factory, periods: Any) -> World:
    period = periods.fresh()
    usccs = [new_uscc() for _ in range(6)]
    rows = [
        enterprise(u, name=STRANGE_NAME if i == 0 else f"测试企业{i}", district="高港区")
        for i, u in enumerate(usccs)
    ]
    factory.enterprises(rows)
    factory.indicators(
        period,
        [
            indicators(
                u,
                invention_patents=2 + 3 * i,
                utility_models=i,
                rd_expense=f"{1_000_000 * (i + 1)}.00",
                revenue=f"{20_000_000 + 3_000_000 * i}.00",
                rd_staff=1 + i,
                total_staff=20,
                equity_financing=f"{500_000 * i}.00",
            )
            for i, u in enumerate(usccs)
        ],
    )
    factory.recompute(period)
    bank = factory.bank(name="泰州测试银行")
    return World(period, usccs, bank, factory.bank_token(bank))


def _json(api: TestClient, world: World, uscc: str, headers: dict[str, str]) -> dict[str, Any]:
    url = f"/v1/scoring/enterprises/{uscc}/diagnosis"
    answer = api.get(url, params={"period": world.period}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _pdf(api: TestClient, world: World, uscc: str, token: str) -> tuple[bytes, str]:
    url = f"/v1/scoring/enterprises/{uscc}/diagnosis"
    answer = api.get(url, params={"period": world.period}, headers={**bearer(token), **PDF})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"] == (
        f'inline; filename="diagnosis-{world.period}-{uscc}.pdf"'
    )
    return answer.content, answer.headers["x-diagnosis-document"]


def _subject(token: str) -> str:
    """The client id a token was issued to (its `sub` claim)."""
    payload = token.split(".")[1]
    sub: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    return sub


def _expected_texts(d: dict[str, Any]) -> list[str]:
    """Every value of the JSON the document prints, as printed (whitespace removed)."""
    out = [
        printable(d["name"]),
        d["uscc"],
        f"创新积分{d['points']}分",
        d["total_exact"],
        f"全市第{d['rank']}/{d['rank_total']}名",
        f"第{d['ranks']['district']['rank']}/{d['ranks']['district']['of']}名",
        f"产业第{d['ranks']['industry']['rank']}/{d['ranks']['industry']['of']}名",
        d["model_version"],
        d["enterprise"]["industry_name"],
    ]
    for item in d["breakdown"]:
        out += [item["points"], item["cap"], item["value"] or ""]
    for p in d["indicators"]:
        if p["value"] is not None:
            out.append(f"{p['percentile']:.1f}")
    by_name = {p["indicator"]: p for p in d["indicators"]}
    for name in d["strengths"] + d["weaknesses"]:
        out.append(f"第{by_name[name]['percentile']:.2f}百分位")
    for item in d["services"] + d["policies"]:
        out += [item["rule_id"], "".join(item["detail_zh"].split()), "".join(item["title"].split())]
    for paths in (d["paths"] or {}).values():
        for plan in (paths or {}).get("plans", []):
            for change in plan["changes"]:
                out.append(f"{change['value_from']}→{change['value_to']}")
    return [t for t in out if t]


def test_the_pdf_prints_the_diagnosis_and_renders(
    api: TestClient, world: World, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    uscc = world.usccs[3]
    pdf, code = _pdf(api, world, uscc, world.bank_token)
    assert pdf.startswith(b"%PDF-")
    assert pages_of(pdf) == 2
    text = text_of(pdf)
    diagnosis = _json(api, world, uscc, bearer(world.bank_token))
    missing = [t for t in _expected_texts(diagnosis) if t not in text]
    assert missing == []
    assert "企业创新诊断书" in text
    assert "服务清单" in text
    assert "提升路径" in text
    assert grouped(code) in text
    assert f"/v1/scoring/diagnosis-documents/{grouped(code)}" in text
    assert "查询:泰州测试银行" in text  # who asked, by the bank's name
    png = page_png(pdf, 1, tmp_path / "page1.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    with db() as session:  # the row records the bank's own client
        row = session.get(DiagnosisDocument, code)
        assert row is not None
        assert (row.issued_role, row.issued_bank_code) == ("bank", world.bank)
        assert row.issued_by == _subject(world.bank_token)
        assert row.sha256 == hashlib.sha256(pdf).hexdigest()
        assert row.size_bytes == len(pdf)


def test_every_request_issues_a_new_document(api: TestClient, world: World) -> None:
    first, code1 = _pdf(api, world, world.usccs[1], world.bank_token)
    second, code2 = _pdf(api, world, world.usccs[1], world.bank_token)
    assert code1 != code2
    assert first != second


def test_equal_inputs_render_equal_bytes(api: TestClient, world: World, admin_token: str) -> None:
    diagnosis = Diagnosis.model_validate(_json(api, world, world.usccs[2], bearer(admin_token)))
    at = datetime(2026, 12, 4, 2, 30, tzinfo=UTC)
    meta = DocumentMeta("7K3M-9QPT-W2HF-4XDA", "http://x/v1/scoring/d/1", at, "查询: 某银行")
    assert render(diagnosis, meta) == render(diagnosis, meta)
    other = DocumentMeta("7K3M-9QPT-W2HF-4XDB", meta.url, at, meta.issued_to)
    assert render(diagnosis, other) != render(diagnosis, meta)


def test_characters_the_font_lacks_become_geta(
    api: TestClient, world: World, admin_token: str
) -> None:
    assert printable(STRANGE_NAME) == f"泰州{MISSING}{MISSING}榕兴医疗用品股份有限公司"
    pdf, _ = _pdf(api, world, world.usccs[0], admin_token)
    assert "泰州〓〓榕兴医疗用品股份有限公司" in text_of(pdf)


def test_a_gbk_sample_round_trips(api: TestClient, world: World, admin_token: str) -> None:
    """The GBK characters the filter keeps (all but the ideographs, and every 37th of those)
    come out of the PDF as they went in."""
    sample = []
    for lead in range(0x81, 0xFF):
        for trail in (*range(0x40, 0x7F), *range(0x80, 0xFF)):
            try:
                ch = bytes((lead, trail)).decode("gbk")
            except UnicodeDecodeError:
                continue
            if printable(ch) == ch and not ch.isspace():
                sample.append(ch)
    # Every symbol, letter and kana, and every 37th ideograph.
    ideographs = [ch for ch in sample if unicodedata.name(ch, "").startswith("CJK UNIFIED")]
    others = [ch for ch in sample if not unicodedata.name(ch, "").startswith("CJK UNIFIED")]
    sample = others + ideographs[::37]
    assert len(sample) > 1000
    body = _json(api, world, world.usccs[2], bearer(admin_token))
    body["services"] = [
        {"rule_id": "service.sample", "title": "样例", "detail": "x", "amount": None,
         "detail_zh": "".join(sample)}
    ]  # fmt: skip
    at = datetime(2026, 12, 4, tzinfo=UTC)
    pdf = render(Diagnosis.model_validate(body), DocumentMeta("C", "u", at, "t"))
    assert "".join(sample) in text_of(pdf)


def test_lines_break_with_kinsoku() -> None:
    # 13 ideographs fill a 120-point line at 9 points: the comma, then the parenthesis, fall
    # exactly at a break.
    text = "一" * 13 + "，" + "二" * 11 + "（三" + "研发费用加计扣除，（可按 100% 加计扣除）。" * 6
    text += " policy.rd-super-deduction"
    lines = wrap(text, 9, 120)
    assert len(lines) > 5
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert not any(line[0] in NO_START for line in lines[1:])
    assert not any(line[-1] in NO_END for line in lines)
    assert any(line.endswith("policy.rd-super-deduction") for line in lines)  # kept whole


def test_codes_read_back_leniently() -> None:
    code = new_code()
    assert len(code) == 16
    assert read_code(code) == code
    assert read_code(grouped(code).lower()) == code
    assert read_code("ILO0-0000-0000-0000") == "1100000000000000"
    assert read_code("U000-0000-0000-0000") is None


def test_anyone_checks_a_document(
    api: TestClient, world: World, admin_token: str, factory: Factory
) -> None:
    pdf, code = _pdf(api, world, world.usccs[4], world.bank_token)
    digest = hashlib.sha256(pdf).hexdigest()
    url = f"/v1/scoring/diagnosis-documents/{grouped(code)}"
    anonymous = api.get(url, params={"sha256": digest})
    assert anonymous.status_code == 200, anonymous.text
    body = anonymous.json()
    assert body["matches"] is True
    assert body["sha256"] == digest
    assert body["size_bytes"] == len(pdf)
    assert body["period"] == world.period
    assert body["uscc"] == world.usccs[4]
    assert body["issued_to"] == f"查询: 泰州测试银行 ({world.bank})"
    # Everyone gets the same answer: a token changes nothing, nor does the code's spelling.
    bureau = bearer(factory.token("bureau"))
    assert api.get(url.lower(), params={"sha256": digest}, headers=bureau).json() == body
    bare = f"/v1/scoring/diagnosis-documents/{code.lower()}"
    assert api.get(bare, params={"sha256": digest.upper()}).json() == body
    assert api.get(url).json() == {**body, "matches": None}
    # One flipped byte: refused.
    altered = bytearray(pdf)
    altered[len(altered) // 2] ^= 0x01
    refused = api.get(url, params={"sha256": hashlib.sha256(altered).hexdigest()})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/diagnosis-document-mismatch")
    assert refused.json()["sha256"] == digest
    unknown = api.get(f"/v1/scoring/diagnosis-documents/{grouped(new_code())}")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/diagnosis-document-not-found")
    assert api.get("/v1/scoring/diagnosis-documents/not-a-code").status_code == 422
    # Only that route is public.
    assert api.get(f"/v1/scoring/enterprises/{world.usccs[4]}/diagnosis").status_code == 401
