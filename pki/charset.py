"""The certificate character set and the conversion of register text into it (DESIGN.md §4).

The set is JIS X 0208 (levels 1 and 2) plus JIS X 0212. Python's ``euc_jp`` codec encodes exactly
these as two-byte (JIS X 0208) and ``8F``-prefixed three-byte (JIS X 0212) sequences; it also
encodes ASCII and half-width katakana (JIS X 0201) in one byte or after ``8E``, which are *not* in
the set.

Decision on ASCII and half-width forms: they are **folded** to the full-width form of the same
character (``A`` → ``Ａ``, ``1`` → ``１``, ``-`` → ``−``, space → U+3000, ``ｶﾞ`` → ``ガ``), and a
few code points that Unicode duplicates for one JIS X 0208 character (``～``/``〜``, ``－``/``−``)
are folded to the one the codec knows. Folding keeps the character, so it is flagged ``0``:
addresses keep their digits and foreign residents' Latin names stay readable and unflagged.

Every other character outside the set is **substituted** and flagged ``1`` at each position it
produces, trying in turn: a table of common forms of frequent name variants (髙 → 高), the
compatibility decomposition when it lands in the set (① → １, ㈱ → （株）, 神 U+FA19 → 神), the
caller's kana reading, and finally the placeholder ``〓`` (下駄記号, JIS X 0208 2-14). An
ideographic variation selector (IVS) is dropped and flags its base character ``1``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

PLACEHOLDER = "〓"  # U+3013 GETA MARK: the customary sign for a character that cannot be printed

# Frequent name and address variants outside the set, and their common form (字形の置換え).
COMMON_FORMS: Mapping[str, str] = {
    "髙": "高",  # はしご高
    "﨑": "崎",  # たつさき
    "𠮷": "吉",  # つちよし
    "德": "徳",
    "栁": "柳",
    "𡈽": "土",  # 土 with a dot
    "瀨": "瀬",
    "﨔": "欅",
    "剝": "剥",
    "屛": "屏",
    "姸": "妍",
    "昻": "昂",
    "黑": "黒",
    "吞": "呑",
    "敎": "教",
    "\u3099": "゛",  # a lone combining voiced mark (from a stray half-width ﾞ)
    "\u309a": "゜",
}

# Same character, other code point: folded without a flag.
FOLDS: Mapping[str, str] = {
    " ": "\u3000",
    "-": "−",  # HYPHEN-MINUS → MINUS SIGN (JIS X 0208 1-29), as in address numbers
    "~": "〜",
    '"': "”",
    "'": "’",
    "\uff5e": "〜",  # FULLWIDTH TILDE and WAVE DASH are one JIS X 0208 character
    "\uff0d": "−",  # FULLWIDTH HYPHEN-MINUS and MINUS SIGN likewise
    "\u2014": "―",  # EM DASH and HORIZONTAL BAR likewise
    "\u2225": "‖",  # PARALLEL TO and DOUBLE VERTICAL LINE likewise
    "\uffe0": "¢",
    "\uffe1": "£",
    "\uffe2": "¬",
    "\uffe4": "¦",
    "\u00a5": "￥",
    "\u203e": "￣",
}

_HALF_WIDTH_KANA = re.compile("[\uff61-\uff9f]+")
_VARIATION_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


class CharsetError(ValueError):
    """Text that cannot be put into a certificate at all (control characters, bad readings)."""


def in_certificate_set(ch: str) -> bool:
    """Whether one character belongs to JIS X 0208 or JIS X 0212."""
    try:
        encoded = ch.encode("euc_jp")
    except UnicodeEncodeError:
        return False
    # one byte: ASCII / JIS X 0201 Roman; 8E xx: JIS X 0201 katakana; neither is in the set
    return len(encoded) >= 2 and encoded[0] != 0x8E


def is_certificate_text(text: str) -> bool:
    """Whether every character of ``text`` is in the certificate character set."""
    return all(in_certificate_set(ch) for ch in text)


def _fold_char(ch: str) -> str:
    if ch in FOLDS:
        return FOLDS[ch]
    if "!" <= ch <= "~":
        return chr(ord(ch) + 0xFEE0)  # ASCII → FULLWIDTH form (JIS X 0208 row 3 and row 1)
    return ch


def fold(text: str) -> str:
    """Fold ASCII, half-width katakana and duplicated code points to the set's form of each."""
    text = _HALF_WIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return "".join(_fold_char(ch) for ch in text)


def _substitute(ch: str, readings: Mapping[str, str]) -> str:
    """The replacement of one character that is outside the set."""
    if ch in COMMON_FORMS:
        return COMMON_FORMS[ch]
    compatible = fold(unicodedata.normalize("NFKC", ch))
    if compatible and compatible != ch and is_certificate_text(compatible):
        return compatible
    if ch in readings:
        return readings[ch]
    return PLACEHOLDER


def to_certificate_text(
    text: str, readings: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """Convert register text to the certificate set; return it with its per-character flags.

    The flag string has one ``0``/``1`` per character of the converted text; ``1`` marks a
    character that was substituted (a reading of several kana flags each of them). ``readings``
    maps a character to its katakana reading, used when no common form exists.
    """
    readings = readings or {}
    for ch, reading in readings.items():
        if not reading or not is_certificate_text(reading):
            raise CharsetError(f"the reading of {ch!r} must be non-empty certificate text")
    out: list[str] = []
    flags: list[str] = []
    for ch in fold(text):
        if unicodedata.category(ch) == "Cc":
            raise CharsetError(f"control character U+{ord(ch):04X} in {text!r}")
        if _VARIATION_SELECTOR.fullmatch(ch):
            if flags:
                flags[-1] = "1"  # the base character stands for a variant glyph
            continue
        if in_certificate_set(ch):
            out.append(ch)
            flags.append("0")
            continue
        replacement = _substitute(ch, readings)
        out.append(replacement)
        flags.extend("1" * len(replacement))
    return "".join(out), "".join(flags)
