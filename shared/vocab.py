"""The programme's fixed vocabulary, shared by every service: districts, growth stages,
enterprise categories, industries and the names of the points model's indicators."""

from __future__ import annotations

from typing import Literal, get_args

from typing_extensions import TypeAliasType

District = TypeAliasType(
    "District", Literal["海陵区", "高港区", "姜堰区", "兴化市", "靖江市", "泰兴市"]
)
"""Taizhou's six districts and county-level cities (高港区 includes the 医药高新区)."""
DISTRICTS: tuple[str, ...] = get_args(District.__value__)

STAGE_LABELS = {"seed": "种子期", "startup": "初创期", "growth": "成长期", "mature": "成熟期"}
STAGES = tuple(STAGE_LABELS)

CATEGORY_LABELS = {
    "tech_sme": "科技型中小企业",
    "high_tech": "高新技术企业",
    "gazelle": "省级瞪羚企业",
    "potential_unicorn": "潜在独角兽企业",
    "leading_innovator": "创新型领军企业",
}
CATEGORIES = tuple(CATEGORY_LABELS)
# English names, for pages offered in English (the dashboard); the API's values are the codes.
CATEGORY_NAMES_EN = {
    "tech_sme": "Tech-based SME",
    "high_tech": "High-tech enterprise",
    "gazelle": "Provincial gazelle",
    "potential_unicorn": "Potential unicorn",
    "leading_innovator": "Leading innovator",
}
STAGE_NAMES_EN = {"seed": "Seed", "startup": "Start-up", "growth": "Growth", "mature": "Mature"}

# Named types (`TypeAliasType`): each is one named schema of the OpenAPI document.
Stage = TypeAliasType("Stage", Literal["seed", "startup", "growth", "mature"])
Category = TypeAliasType(
    "Category",
    Literal["tech_sme", "high_tech", "gazelle", "potential_unicorn", "leading_innovator"],
)

# The city's "1+4" industry system, seeded into sc_industry (operators may add more).
INDUSTRIES = (
    ("health", "大健康/生物医药"),
    ("equipment", "高端装备"),
    ("materials", "新材料"),
    ("energy", "新能源"),
    ("ict", "新一代信息技术"),
    ("other", "其他"),
)

# The points model's indicators: those an enterprise reports each period, then those derived
# from them (R&D intensity = R&D expense / revenue, R&D staff / total staff, revenue growth).
IndicatorName = TypeAliasType(
    "IndicatorName",
    Literal[
        "invention_patents",
        "utility_models",
        "software_copyrights",
        "rd_expense",
        "revenue",
        "rd_staff",
        "total_staff",
        "equity_financing",
        "awards_provincial",
        "awards_national",
        "jbgs_funds_paid",
        "rd_intensity",
        "rd_staff_ratio",
        "revenue_growth",
    ],
)
INDICATORS: tuple[str, ...] = get_args(IndicatorName.__value__)
INDICATOR_LABELS = {
    "invention_patents": "发明专利",
    "utility_models": "实用新型专利",
    "software_copyrights": "软件著作权",
    "rd_expense": "研发费用",
    "revenue": "营业收入",
    "rd_staff": "研发人员",
    "total_staff": "职工总数",
    "equity_financing": "股权融资",
    "awards_provincial": "省级奖项",
    "awards_national": "国家级奖项",
    "jbgs_funds_paid": "揭榜挂帅实缴资金",
    "rd_intensity": "研发投入强度",
    "rd_staff_ratio": "研发人员占比",
    "revenue_growth": "营业收入增长率",
}
DERIVED_INDICATORS = ("rd_intensity", "rd_staff_ratio", "revenue_growth")
RAW_INDICATORS = tuple(i for i in INDICATORS if i not in DERIVED_INDICATORS)

WAIVER_TOP = 100
"""The 泰信保 waiver: ranks 1 to 100 of period `year − 1` pay no guarantee fee in `year`
(`services.guarantee.waiver`; the what-if report names who would enter or leave them)."""
