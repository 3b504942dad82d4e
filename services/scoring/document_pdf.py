"""The 诊断书 as a PDF, in Chinese: a pure function of the `Diagnosis` (the JSON the API
answers) and of what is printed about the document itself (`DocumentMeta`).

Drawn on reportlab's canvas at fixed positions (no layout engine: about 10 ms a document,
against about 30 ms with platypus), with the built-in CID font (`pdf_canvas`). The canvas is
`invariant`, so equal inputs give equal bytes. Numbers are printed as the JSON has them
(values and points as strings; percentiles to 2 places, 1 in the chart), so a reader can
check one against the other, and the tests do.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.colors import Color, HexColor, black
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from services.scoring.paths_schemas import PathsOut, Plan
from services.scoring.pdf_canvas import (
    FONT,
    GREY,
    LEFT,
    MARGIN,
    RIGHT,
    RULE,
    WIDTH,
    Flow,
    printable,
)
from services.scoring.schemas import Diagnosis, IndicatorPercentile, Recommendation
from shared.clock import SHANGHAI
from shared.vocab import CATEGORY_LABELS, INDICATOR_LABELS

LAYOUT_VERSION = "2026.1"
"""Changes whenever the same diagnosis would be drawn differently (recorded per document)."""

BUREAU = "泰州市科学技术局"
STRONG, WEAK, MIDDLE = HexColor("#2e7d32"), HexColor("#c62828"), HexColor("#1565c0")
_ORDINALS = "一二三"


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """What the document prints about itself: its verification code (grouped), the URL that
    checks it, when it was issued and to whom (as printed)."""

    code: str
    url: str
    issued_at: datetime
    issued_to: str


def label(indicator: str, diagnosis: Diagnosis) -> str:
    """The Chinese name of an indicator (the model's label for one the vocabulary lacks)."""
    if indicator in INDICATOR_LABELS:
        return INDICATOR_LABELS[indicator]
    known = {i.indicator: i.label for i in diagnosis.indicators}
    return known.get(indicator, indicator)


def render(diagnosis: Diagnosis, meta: DocumentMeta) -> bytes:
    """The 诊断书 of `diagnosis` as PDF bytes (A4; two pages for a typical firm)."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(WIDTH, 297 * mm), invariant=1, pageCompression=1)
    canvas.setTitle(f"企业创新诊断书 {diagnosis.period} {diagnosis.uscc}")
    canvas.setAuthor(BUREAU)
    canvas.setSubject(f"验证码 {meta.code}")

    def footer(c: Canvas, page: int) -> None:
        c.setFont(FONT, 7)
        c.setFillColor(GREY)
        c.drawString(LEFT, MARGIN, printable(f"第 {page} 页 - 验证码 {meta.code}"))
        c.drawRightString(RIGHT, MARGIN, printable(f"{diagnosis.name} {diagnosis.uscc}"))
        c.setFillColor(black)

    flow = Flow(canvas, footer)
    _head(flow, diagnosis)
    _breakdown(flow, diagnosis)
    _chart(flow, diagnosis)
    _strengths(flow, diagnosis)
    if flow.page == 1:  # the lists and paths start page 2 (unless page 1 ran over already)
        flow.new_page()
    for title, items in (("服务清单", diagnosis.services), ("政策清单", diagnosis.policies)):
        _recommendations(flow, title, items)
    _paths(flow, diagnosis)
    _verification(flow, diagnosis, meta)
    flow.finish()
    canvas.save()
    return out.getvalue()


def _head(flow: Flow, d: Diagnosis) -> None:
    e = d.enterprise
    flow.para(BUREAU, 11, 16)
    flow.centred(f"企业创新诊断书 ({d.period} 年度)", 16, 26)
    flow.y -= 6
    categories = "、".join(CATEGORY_LABELS.get(c, c) for c in e.categories) or "无"
    flow.para(f"企业名称: {d.name}", 9.5, 14)
    flow.para(f"统一社会信用代码: {d.uscc}    所在地区: {e.district}", 9.5, 14)
    flow.para(f"所属产业: {e.industry_name}    发展阶段: {e.stage_label}", 9.5, 14)
    flow.para(f"企业类别: {categories}", 9.5, 14)
    r = d.ranks
    flow.heading("积分与排名")
    flow.para(
        f"创新积分 {d.points} 分 (精确合计 {d.total_exact})；全市第 {d.rank} / {d.rank_total} 名，"
        f"{r.district.name}第 {r.district.rank} / {r.district.of} 名，"
        f"{r.industry.name}产业第 {r.industry.rank} / {r.industry.of} 名。"
        f"积分模型 {d.model_version}，排名批次 {d.versions.ranking_run}。"
    )


def _breakdown(flow: Flow, d: Diagnosis) -> None:
    flow.heading("积分构成")
    rows = [["指标", "数值", "得分", "上限", "说明"]]
    for item in d.breakdown:
        if item.indicator.startswith("bonus:"):
            rows.append(["加分", "", item.points, item.cap, item.note])
        else:
            name = label(item.indicator, d)
            rows.append([name, item.value or "无数据", item.points, item.cap, item.note])
    flow.table(rows, [34 * mm, 32 * mm, 20 * mm, 20 * mm, 68 * mm], right=frozenset({1, 2, 3}))


def _colour(p: IndicatorPercentile, d: Diagnosis) -> Color:
    if p.indicator in d.strengths:
        return STRONG
    return WEAK if p.indicator in d.weaknesses else MIDDLE


def _chart(flow: Flow, d: Diagnosis) -> None:
    shown = [p for p in d.indicators if p.value is not None]
    group = d.peer_group
    peers = "同阶段、同产业" if group.get("industry") else "同阶段"
    flow.heading(f"同行百分位 ({peers}，{group.get('size')} 家企业)")
    bar, gap = 4.6 * mm, 0.8 * mm
    left, span = LEFT + 34 * mm, 118 * mm
    flow.need(len(shown) * (bar + gap) + 24)
    c, top = flow.canvas, flow.y - 3 * mm
    c.setFont(FONT, 7)
    for i, p in enumerate(shown):
        y = top - (i + 1) * (bar + gap)
        c.setFillColor(_colour(p, d))
        c.rect(left, y, span * p.percentile / 100, bar, stroke=0, fill=1)
        c.setFillColor(black)
        c.drawRightString(left - 2 * mm, y + 1.3 * mm, printable(label(p.indicator, d)))
        c.drawString(left + span * p.percentile / 100 + 1 * mm, y + 1.3 * mm, f"{p.percentile:.1f}")
    base = top - len(shown) * (bar + gap) - 2 * mm
    c.setLineWidth(0.3)
    for tick in (0, 25, 50, 75, 100):
        x = left + span * tick / 100
        c.setStrokeColor(RULE if tick in (25, 75) else HexColor("#dddddd"))
        c.line(x, base, x, top)
        c.drawCentredString(x, base - 8, str(tick))
    flow.y = base - 12


def _strengths(flow: Flow, d: Diagnosis) -> None:
    by_name = {p.indicator: p for p in d.indicators}
    for title, names, none in (
        ("优势", d.strengths, "无 (没有指标达到第 75 百分位)"),
        ("短板", d.weaknesses, "无明显短板 (没有指标低于第 25 百分位)"),
    ):
        flow.heading(title, 10)
        shown = [f"{label(n, d)} (第 {by_name[n].percentile:.2f} 百分位)" for n in names]
        flow.para("；".join(shown) + "。" if shown else none)


def _recommendations(flow: Flow, title: str, items: list[Recommendation]) -> None:
    flow.heading(title)
    if not items:
        flow.para("- 无")
    for item in items:
        amount = f" (金额 {item.amount} 元)" if item.amount is not None else ""
        flow.para(f"- {item.title}: {item.detail_zh}{amount}")
        flow.para(f"规则 {item.rule_id}", 6.5, 9, LEFT + 8, GREY)


def _plan_text(n: int, plan: Plan) -> str:
    changes = "；".join(f"{c.label} {c.value_from} → {c.value_to}" for c in plan.changes)
    outcome = f"{plan.points} 分 (合计 {plan.total_exact})，第 {plan.rank} 名"
    return f"方案{_ORDINALS[n]}: {changes} → {outcome}"


def _target(flow: Flow, heading: str, paths: PathsOut) -> None:
    target = paths.target
    flow.para(f"{heading}: 需 {target.points_needed} 分 (合计 {target.total_needed})", 9.5, 15)
    if paths.reached:
        flow.para("已达到。", 9, 13, LEFT + 8)
    elif paths.unreachable is not None:
        flow.para(f"无法达到: {paths.unreachable.detail}", 9, 13, LEFT + 8)
    for n, plan in enumerate(paths.plans[:3]):
        flow.para(_plan_text(n, plan), 9, 13, LEFT + 8)
        unlocks = plan.unlocks
        if unlocks.tier is not None:
            flow.para(
                f"可获额度档 {unlocks.tier.points} 分，最高 {unlocks.tier.max_amount} 元",
                7.5, 11, LEFT + 20, GREY,
            )  # fmt: skip
        if unlocks.waiver_year is not None:
            flow.para(f"{unlocks.waiver_year} 年泰信保担保费减免", 7.5, 11, LEFT + 20, GREY)


def _paths(flow: Flow, d: Diagnosis) -> None:
    flow.heading("提升路径")
    if d.paths is None:
        flow.para(d.paths_note or "本期无提升路径。")
        return
    if d.paths.next_tier is not None:
        _target(flow, "下一额度档", d.paths.next_tier)
    else:
        flow.para("下一额度档: 暂无向本企业开放的积分贷产品。")
    _target(flow, "进入前 100 名", d.paths.top_100)


def _verification(flow: Flow, d: Diagnosis, meta: DocumentMeta) -> None:
    flow.heading("验证")
    issued = meta.issued_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    flow.para(f"验证码 {meta.code}")
    flow.para(f"核验地址 {meta.url}", 8, 12)
    flow.para(
        "任何人可访问上述地址核验本诊断书的签发时间、年度、积分模型与文件摘要 (SHA-256)；"
        "附 ?sha256= 参数可核对文件是否未被改动。",
        8, 12,
    )  # fmt: skip
    flow.para(f"签发: {BUREAU} 创新积分系统 - {issued} (北京时间) - {meta.issued_to}", 8, 12)
    flow.y -= 6
    flow.canvas.setStrokeColor(RULE)
    flow.canvas.line(LEFT, flow.y, RIGHT, flow.y)
    flow.para(f"积分模型 {d.model_version}  排名批次 {d.versions.ranking_run}", 6.5, 9, color=GREY)
