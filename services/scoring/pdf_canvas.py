"""Drawing Chinese text on a reportlab canvas: the one font, the printable-character filter,
line breaking with kinsoku, and a page that flows paragraphs, tables and bars downwards.

The font is reportlab's built-in CID font STSong-Light (Adobe-GB1): no font file, nothing
embedded, nothing fetched; the viewer supplies the face (README "The 诊断书 as a PDF"). Its
encoding (UniGB-UCS2-H) maps what GBK maps; anything else — a character outside the Basic
Multilingual Plane garbles the characters after it in poppler's extraction, `·` or `²` come
out as `?` — is drawn as `〓` (U+3013, the GB standards' mark for a missing character), so
every string goes through `printable` first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from reportlab.lib.colors import Color, HexColor, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

FONT = "STSong-Light"
MISSING = "〓"
WIDTH, HEIGHT = A4
MARGIN = 18 * mm
LEFT, RIGHT, BOTTOM, TOP = MARGIN, WIDTH - MARGIN, MARGIN + 8 * mm, HEIGHT - 16 * mm
GREY = HexColor("#666666")
RULE = HexColor("#999999")
SHADE = HexColor("#dde6f0")

# Kinsoku (禁则): these never begin a line, those never end one.
NO_START = frozenset("，。、；：！？）》」』”’%％,.;:!?)]")
NO_END = frozenset("（《「『“‘([")
_LATIN_KEPT = frozenset("°±×÷§")
# GBK characters the font's mapping loses (poppler extracts nothing or another character):
# vertical presentation forms, and four Latin letters of the pinyin extension.
_LOST = frozenset("ɑńňɡ") | frozenset(map(chr, range(0xFE30, 0xFE50)))

pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@cache
def _printable_char(ch: str) -> str:
    if " " <= ch <= "~" or ch in _LATIN_KEPT:
        return ch
    if ch in "\t\n\r":
        return " "
    if 0xF900 <= ord(ch) <= 0xFAFF:  # a compatibility ideograph: its unified twin
        ch = unicodedata.normalize("NFC", ch)
    if ord(ch) <= 0xFF or ord(ch) > 0xFFFF or 0xE000 <= ord(ch) <= 0xF8FF or ch in _LOST:
        return MISSING
    try:
        ch.encode("gbk")
    except UnicodeEncodeError:
        return MISSING
    return ch


def printable(text: str) -> str:
    """`text` with every character the font's encoding cannot carry replaced by `〓`: kept
    are printable ASCII, `° ± × ÷ §`, and characters above U+00FF that GBK encodes, outside
    the Private Use Area (but for the few whose mapping poppler cannot read back, checked
    over all of GBK once). A compatibility ideograph becomes its unified twin; tabs and
    line ends become spaces."""
    return "".join(map(_printable_char, text))


class _Widths(dict[str, float]):
    """Characters' advances at one size, each measured once."""

    def __init__(self, size: float) -> None:
        super().__init__()
        self.size = size

    def __missing__(self, ch: str) -> float:
        width = self[ch] = float(pdfmetrics.stringWidth(ch, FONT, self.size))
        return width


_WIDTHS: dict[float, _Widths] = {}


def char_width(ch: str, size: float) -> float:
    """The advance of one character at `size` points."""
    table = _WIDTHS.get(size) or _WIDTHS.setdefault(size, _Widths(size))
    return table[ch]


def text_width(text: str, size: float) -> float:
    """The advance of `text` (already printable) at `size` points."""
    table = _WIDTHS.get(size) or _WIDTHS.setdefault(size, _Widths(size))
    return sum(map(table.__getitem__, text))


def _tokens(text: str) -> list[str]:
    """Latin words stay whole (a rule id, a URL, a number); every other character is a
    token of its own, a possible break."""
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        if "!" <= ch <= "~":
            word.append(ch)
            continue
        if word:
            out.append("".join(word))
            word = []
        out.append(ch)
    if word:
        out.append("".join(word))
    return out


def wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy lines of `text` no wider than `width`, with kinsoku: a closing mark is pulled
    back with the token before it, an opening mark goes with the token after it. A word
    wider than the line is cut by character."""
    lines: list[list[str]] = [[]]
    used = 0.0
    for token in _tokens(text):
        w = text_width(token, size)
        if w > width:  # a word longer than a line: cut it
            for ch in token:
                cw = char_width(ch, size)
                if used + cw > width and lines[-1]:
                    lines.append([])
                    used = 0.0
                lines[-1].append(ch)
                used += cw
            continue
        if used + w > width and lines[-1]:
            if token.isspace():  # a space at the end of a line is dropped
                continue
            carried: list[str] = []
            line, head = lines[-1], token
            while head[0] in NO_START and len(line) > 1:
                head = line.pop()
                carried.insert(0, head)
            while len(line) > 1 and line[-1][-1] in NO_END:
                carried.insert(0, line.pop())
            lines.append(carried)
            used = sum(text_width(t, size) for t in carried)
        if token.isspace() and not lines[-1]:
            continue
        lines[-1].append(token)
        used += w
    return ["".join(line).rstrip() for line in lines]


@dataclass
class Flow:
    """A canvas written top to bottom: `y` is the baseline of the last line drawn; a line
    that would fall below the bottom margin starts a new page first. `footer(page)` is
    drawn at the foot of every page."""

    canvas: Canvas
    footer: Callable[[Canvas, int], None]
    y: float = TOP
    page: int = 1

    def need(self, height: float) -> None:
        """Start a new page unless `height` more points fit above the bottom margin."""
        if self.y - height < BOTTOM:
            self.new_page()

    def new_page(self) -> None:
        """Finish this page (with its footer) and start the next."""
        self.footer(self.canvas, self.page)
        self.canvas.showPage()
        self.page += 1
        self.y = TOP

    def finish(self) -> None:
        """Finish the last page."""
        self.footer(self.canvas, self.page)
        self.canvas.showPage()

    def para(
        self,
        text: str,
        size: float = 9,
        lead: float = 13,
        x: float = LEFT,
        color: Color = black,
    ) -> None:
        """A paragraph of `text`, wrapped between `x` and the right margin."""
        self.canvas.setFillColor(color)
        for line in wrap(printable(text), size, RIGHT - x):
            self.need(lead)
            self.y -= lead
            self.canvas.setFont(FONT, size)
            self.canvas.drawString(x, self.y, line)
        self.canvas.setFillColor(black)

    def heading(self, text: str, size: float = 11) -> None:
        """A section heading, kept with at least three lines after it."""
        self.need(size + 3 * 13 + 6)
        self.y -= 5
        self.para(text, size, size + 5)

    def centred(self, text: str, size: float, lead: float) -> None:
        """One centred line."""
        self.need(lead)
        self.y -= lead
        self.canvas.setFont(FONT, size)
        self.canvas.drawCentredString(WIDTH / 2, self.y, printable(text))

    def table(
        self,
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        *,
        size: float = 8,
        lead: float = 11.5,
        header: bool = True,
        right: frozenset[int] = frozenset(),
    ) -> None:
        """A ruled table, one line per row (a cell too wide is cut at its width, with `…`),
        the first row shaded as a header; columns in `right` are right-aligned."""
        c = self.canvas
        total = sum(widths)
        self.y -= 4  # clear of the line above
        c.setLineWidth(0.3)
        c.setStrokeColor(RULE)
        for i, row in enumerate(rows):
            if self.y - lead < BOTTOM or i == 0:
                self.need(lead * (2 if i == 0 else 1))
                c.setLineWidth(0.3)
                c.setStrokeColor(RULE)
                c.line(LEFT, self.y, LEFT + total, self.y)
            if i == 0 and header:
                c.setFillColor(SHADE)
                c.rect(LEFT, self.y - lead, total, lead, stroke=0, fill=1)
                c.setFillColor(black)
            x = LEFT
            c.setFont(FONT, size)
            for j, (cell, width) in enumerate(zip(row, widths, strict=True)):
                shown = _fit(printable(cell), size, width - 6)
                if j in right and not (i == 0 and header):
                    c.drawRightString(x + width - 3, self.y - lead + 3, shown)
                else:
                    c.drawString(x + 3, self.y - lead + 3, shown)
                c.line(x, self.y, x, self.y - lead)
                x += width
            c.line(x, self.y, x, self.y - lead)
            self.y -= lead
            c.line(LEFT, self.y, LEFT + total, self.y)


def _fit(text: str, size: float, width: float) -> str:
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"
