"""The printed form of a wide-area copy: a one-page A4 PDF in Japanese.

Text is set in reportlab's built-in Japanese CID font (the viewer supplies the glyphs), so no font
file is downloaded or embedded. The output depends only on the copy: reportlab runs in invariant
mode and the document dates are the issue time.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from jukibridge.copies import WideAreaCopy
from pki.eras import PartialDate

FONT = "HeiseiKakuGo-W5"
TITLE = "住民票の写し"
SIZE = 11
LEADING = 16
MARGIN = 50
LABEL_WIDTH = 150


def render_pdf(copy: WideAreaCopy) -> bytes:
    """The copy as PDF bytes (the same bytes for the same copy)."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    stamp = f"D:{copy.issued_at:%Y%m%d%H%M%S}+09'00'"
    canvas.setDateFormatter(lambda *_: stamp)
    title = TITLE + ("（広域交付）" if copy.wide_area else "")
    canvas.setTitle(title)
    canvas.setAuthor(copy.issuing_name)
    canvas.setCreator("jpki")
    width, height = A4
    y = height - MARGIN - 20
    canvas.setFont(FONT, 18)
    canvas.drawCentredString(width / 2, y, title)
    canvas.setFont(FONT, SIZE)
    if copy.removed:
        y -= LEADING + 4
        canvas.drawCentredString(width / 2, y, "【除票】")
    y -= LEADING * 2
    canvas.drawRightString(width - MARGIN, y, f"交付番号 {copy.copy_id}")
    y -= LEADING
    canvas.drawRightString(width - MARGIN, y, f"交付地 {copy.issuing_name}")
    y -= LEADING
    value_width = width - 2 * MARGIN - LABEL_WIDTH - 10
    table_top = y
    canvas.line(MARGIN, y, width - MARGIN, y)
    for label, value in _items(copy):
        lines = _wrap(value, value_width)
        top = y
        for line in lines:
            y -= LEADING
            canvas.drawString(MARGIN + LABEL_WIDTH + 10, y + 4, line)
        canvas.drawString(MARGIN + 5, top - LEADING + 4, label)
        y -= 6
        canvas.line(MARGIN, y, width - MARGIN, y)
    for x in (MARGIN, MARGIN + LABEL_WIDTH, width - MARGIN):
        canvas.line(x, table_top, x, y)
    y -= LEADING * 2
    for line in _wrap(_certification(copy), width - 2 * MARGIN):
        canvas.drawString(MARGIN, y, line)
        y -= LEADING
    canvas.drawString(MARGIN, y, "本籍、筆頭者及び住民票コードの記載は省略しています。")
    y -= LEADING * 2
    canvas.drawString(MARGIN, y, PartialDate.of(copy.issued_on).japanese())
    y -= LEADING * 2
    canvas.drawRightString(width - MARGIN, y, f"{copy.issuing_name}長")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _items(copy: WideAreaCopy) -> list[tuple[str, str]]:
    notified = PartialDate.of(copy.address_notified_on).japanese() \
        if copy.address_notified_on else ""
    items = [
        ("氏名", copy.name),
        ("フリガナ", copy.name_kana),
        ("生年月日", copy.birth_date.japanese()),
        ("性別", copy.sex.label),
        ("住所", copy.address),
        ("世帯主", copy.head_name or ""),
        ("続柄", copy.relationship),
        ("住民となった年月日", copy.became_resident_on.japanese()),
        ("住所を定めた年月日", copy.address_fixed_on.japanese()),
        ("届出年月日", notified),
        ("前住所", copy.previous_address or ""),
    ]
    if copy.removed:
        items.append(("消除事由", copy.removal_reason.label if copy.removal_reason else ""))
        items.append(("消除年月日",
                      PartialDate.of(copy.removed_on).japanese() if copy.removed_on else ""))
    return items


def _certification(copy: WideAreaCopy) -> str:
    if copy.wide_area:
        return (f"この写しは、住民基本台帳ネットワークシステムを通じて{copy.home_name}から"
                "提供を受けた住民票の記載事項と相違ないことを証明する。")
    return "この写しは、住民票の原本と相違ないことを証明する。"


def _wrap(text: str, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (Japanese breaks between any chars)."""
    lines: list[str] = []
    line = ""
    for char in text:
        if line and pdfmetrics.stringWidth(line + char, FONT, SIZE) > width:
            lines.append(line)
            line = char
        else:
            line += char
    return [*lines, line]
