"""The demo's facts: the article's figures and the cast (banks, products, districts, firms)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

SEED = 2026
ENTERPRISES = 8012
COUNTS = {
    "tech_sme": 3895,
    "high_tech": 1601,
    "gazelle": 33,
    "potential_unicorn": 10,
    "leading_innovator": 10,
}
HIGH_TECH_ALSO_SME = 900  # documented overlap: high-tech firms that are also tech SMEs
DISBURSED_LOANS = 662
DISBURSED_TOTAL = Decimal("4112000000.00")
H1 = (date(2026, 1, 5), date(2026, 6, 19))
RONGXING = "91321203MA1RXYL18"  # + check digit
FIRMS = ("ZXPJ", "XYTZ")

DISTRICT_CODES = {
    "海陵区": "321202",
    "高港区": "321203",
    "姜堰区": "321204",
    "兴化市": "321281",
    "靖江市": "321282",
    "泰兴市": "321283",
}
INDUSTRY_SUFFIX = {
    "health": "医药科技有限公司",
    "equipment": "精密机械有限公司",
    "materials": "新材料科技有限公司",
    "energy": "新能源科技有限公司",
    "ict": "信息技术有限公司",
    "other": "实业有限公司",
}
SYLLABLES = "华瑞康科达恒泰兴盛鑫源通宏博创新中金嘉安远航天海润丰益诚信和美"

BANKS = {
    "TZBANK": "泰州银行",
    "JSBANK": "江苏银行",
    "BOCTZ": "中国银行泰州分行",
    "ICBCTZ": "工商银行泰州分行",
    "ABCTZ": "农业银行泰州分行",
}
# code: (bank, name, min_points, categories, guarantee)
PRODUCTS: dict[str, tuple[str, str, int, list[str], bool]] = {
    "XEGQ": ("TZBANK", "鑫e高企", 100, ["high_tech"], True),
    "TZKD": ("TZBANK", "泰科贷", 60, [], True),
    "SKD": ("JSBANK", "苏科贷", 80, ["tech_sme", "high_tech"], False),
    "ZYKJD": ("BOCTZ", "中银科技贷", 90, [], False),
    "KCD": ("ICBCTZ", "科创贷", 100, [], False),
    "CXJFD": ("ICBCTZ", "创新积分贷", 70, [], True),
    "KJED": ("ABCTZ", "科技e贷", 80, [], False),
    "JFD": ("ABCTZ", "积分贷", 60, [], True),
    "DLD": ("ABCTZ", "瞪羚贷", 150, ["gazelle", "potential_unicorn", "leading_innovator"], False),
}
TIERS = [(120, "5000000.00"), (150, "8000000.00"), (200, "15000000.00"), (250, "25000000.00")]

Progress = Callable[[str], None]
"""Told each step of the load (a line of the CLI's output)."""
