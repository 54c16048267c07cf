"""Names and their readings: kana normalised to full-width katakana, names spaced with U+3000."""

from __future__ import annotations

import re
import unicodedata

from jukibridge.errors import InvalidInput

IDEOGRAPHIC_SPACE = "\u3000"
KATAKANA_NAME = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb\u3000]+$")


def normalise_kana(text: str, field: str = "name_kana") -> str:
    """Full-width katakana with single U+3000 spaces; hiragana and half-width kana are converted.

    Raises ``InvalidInput`` for anything that is not kana (kanji, Latin letters, digits).
    """
    text = unicodedata.normalize("NFKC", text)  # half-width katakana → full-width
    text = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)
    text = _single_spaces(text)
    if not text or not KATAKANA_NAME.match(text):
        raise InvalidInput(f"{field} must be written in kana", field=field)
    return text


def normalise_name(text: str, field: str = "name") -> str:
    """A name with surrounding blanks removed and inner blanks made one U+3000.

    Characters are kept as given (gaiji and variation selectors included): a name is never
    silently changed; turning a character into its common form is a ``MINOR_CORRECTION``.
    """
    text = _single_spaces(text)
    if not text:
        raise InvalidInput(f"{field} is empty", field=field)
    if len(text) > 100 or any(unicodedata.category(c) in ("Cc", "Cf") and c != "\u200d"
                              for c in text):
        raise InvalidInput(f"{field} has characters a name cannot have", field=field)
    return text


def _single_spaces(text: str) -> str:
    return IDEOGRAPHIC_SPACE.join(text.replace(IDEOGRAPHIC_SPACE, " ").split())
