"""One generic form per change kind, built from the request type's fields.

``jukibridge.change_requests`` describes every kind as a frozen dataclass; this module turns its
fields into inputs (str → text, bool → checkbox, date → date input, ``PartialDate`` → text with an
era hint, ``Sex`` → select, ``list[str]`` → one code per line, ``dict[str, str]`` → ``key=value``
lines, int → number), adds the change's dates and remarks, and reads a submitted form back into
the plain values that ``build_request`` takes. Reading never decides what the register accepts:
it only catches what cannot be read at all (a malformed resident code, an unreadable date), in
Japanese and on the right input; everything else is the register's to judge.
"""

from __future__ import annotations

import dataclasses
import re
import types
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Union, get_args, get_origin

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectField, StringField, TextAreaField

from jukibridge.change_requests import REQUEST_TYPES, ChangeRequest, request_fields
from jukibridge.codes import is_valid_resident_code, mask_individual_number
from jukibridge.errors import RegisterError
from jukibridge.records import ChangeKind, Sex
from pki.eras import DateError, PartialDate
from web.blueprints.counter.display import (
    ACTION_LABELS,
    ITEM_LABELS,
    RECORD_ITEMS,
    era_date,
    explain,
    label,
)

EXTRA_FIELDS = ("effective_on", "notified_on", "remarks")
CODE_FIELDS = frozenset({"resident_code", "parent_code", "join_household_of", "target_code"})
CODE_LIST_FIELDS = frozenset({"resident_codes"})
FIRST_FIELDS = frozenset({"resident_codes", "resident_code", "parent_code"})
NUMBER_FIELDS = frozenset({"seq", "change_id", "destination_code", "individual_number"})
TEXT_LIMIT = 200
AREA_LIMIT = 4000
REMARKS_LIMIT = 500
SEX_CHOICES = [("", "選択してください"), ("1", "男"), ("2", "女"), ("3", "不詳")]
ACTION_CHOICES = [("", "選択してください"), *ACTION_LABELS.items()]
PARTIAL_DATE_HINT = ("例: 昭和25年3月15日、S25.3.15、1950-03-15。"
                     "不明な部分は省略、全く不明なら「不詳」")
HINTS: dict[str, str] = {
    "resident_codes": "11桁の住民票コードを1行に1件ずつ入力してください。",
    "relationships": "「住民票コード=続柄」の形で1行に1件ずつ（例: 24727059608=妻）。",
    "items": "「項目=値」の形で1行に1項目ずつ（例: 住所=並木一丁目2番3号、"
             "生年月日=昭和25年3月15日、性別=女）。",
    "address": "この市区町村内の住所（市区町村名は省略できます）。",
    "name": "氏と名の間は空白で区切ってください。",
    "name_kana": "カタカナ（ひらがなも可）。氏と名の間は空白で区切ってください。",
    "relationship": "世帯主との続柄（例: 世帯主、妻、子）。",
    "individual_number": "国外から戻った日本国籍の方で、個人番号をお持ちの場合のみ。",
    "destination": "転出先の住所（国外転出は国名等）。",
    "destination_code": "特例転出の場合のみ（6桁）。",
    "effective_on": "空欄の場合は本日（出生の場合は生年月日）になります。",
    "notified_on": "届出を受けた日。職権による場合は空欄。",
    "seq": "履歴の表で確認できる番号です。",
    "change_id": "異動の詳細画面に表示される番号です。",
}
_SPLIT = re.compile(r"[\s,、，]+")
_TRUE = {"1", "true", "yes", "on", "はい", "あり", "有", "○"}
_FALSE = {"0", "false", "no", "off", "いいえ", "なし", "無", "×"}
_SEX = {"男": "1", "女": "2", "不詳": "3"}


@dataclass(frozen=True)
class Reading:
    """A submitted change form read back: values for ``build_request`` and the change's dates,
    or the errors found per input."""

    values: dict[str, Any] = field(default_factory=dict)
    effective_on: date | None = None
    notified_on: date | None = None
    remarks: str = ""
    errors: dict[str, str] = field(default_factory=dict)


class ChangeForm(FlaskForm):
    """Base of the generated forms; subclasses carry one kind's inputs."""

    kind: ChangeKind
    request_fields: tuple[str, ...]


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)


def _base(hint: Any) -> Any:
    if _optional(hint):
        return next(a for a in get_args(hint) if a is not type(None))
    return hint


def is_required(f: dataclasses.Field[Any], hint: Any) -> bool:
    return (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            and not _optional(hint))


def _field(f: dataclasses.Field[Any], hint: Any) -> Field:
    base = _base(hint)
    required = is_required(f, hint)
    text = label(f.name) + ("（必須）" if required else "")
    hint_text = HINTS.get(f.name, "")
    default = f.default if f.default is not dataclasses.MISSING else None
    if base is bool:
        return BooleanField(text, default=bool(default), description=hint_text)
    if base is Sex:
        return SelectField(text, choices=SEX_CHOICES, validate_choice=False,
                           description=hint_text)
    if f.name == "action":
        return SelectField(text, choices=ACTION_CHOICES, validate_choice=False,
                           description=hint_text)
    if base is PartialDate:
        return StringField(text, description=hint_text or PARTIAL_DATE_HINT,
                           render_kw={"maxlength": 40})
    if base is date:
        return StringField(text, description=hint_text, render_kw={"type": "date"})
    if base is int:
        return StringField(text, description=hint_text,
                           render_kw={"type": "number", "min": 1, "inputmode": "numeric"})
    if get_origin(base) in (list, dict):
        return TextAreaField(text, description=hint_text, render_kw={"rows": 4})
    kw: dict[str, Any] = {"maxlength": TEXT_LIMIT}
    if f.name in CODE_FIELDS or f.name in NUMBER_FIELDS:
        kw |= {"inputmode": "numeric", "autocomplete": "off"}
    return StringField(text, default=default if isinstance(default, str) else None,
                       description=hint_text, render_kw=kw)


def _ordered(kind: ChangeKind) -> list[tuple[dataclasses.Field[Any], Any]]:
    """The request's fields, the resident codes it names first (as the clerk fills them in)."""
    fields = request_fields(REQUEST_TYPES[kind])
    return sorted(fields, key=lambda pair: pair[0].name not in FIRST_FIELDS)


@cache
def form_class(kind: ChangeKind) -> type[ChangeForm]:
    """The form of ``kind``: inputs named exactly as the request's fields, then the dates."""
    attrs: dict[str, Any] = {"kind": kind,
                             "request_fields": tuple(f.name for f, _ in _ordered(kind))}
    for f, hint in _ordered(kind):
        attrs[f.name] = _field(f, hint)
    attrs["effective_on"] = StringField(label("effective_on"), description=HINTS["effective_on"],
                                        render_kw={"type": "date"})
    attrs["notified_on"] = StringField(label("notified_on"), description=HINTS["notified_on"],
                                       render_kw={"type": "date"})
    attrs["remarks"] = TextAreaField(label("remarks"), render_kw={"rows": 2,
                                                                   "maxlength": REMARKS_LIMIT})
    return type(f"{kind.name.title().replace('_', '')}Form", (ChangeForm,), attrs)


def prefill(form: ChangeForm, resident_code: str) -> None:
    """Put the resident of ``?resident=CODE`` into the kind's resident input."""
    code = unicodedata.normalize("NFKC", resident_code).strip()
    if not is_valid_resident_code(code):
        return
    for name in ("resident_codes", "resident_code", "parent_code"):
        if name in form.request_fields:
            form[name].data = code
            return


# -- reading a submitted form ---------------------------------------------------------------


def read(form: ChangeForm) -> Reading:
    """The plain values of a submitted form (see the module docstring)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f, hint in request_fields(REQUEST_TYPES[form.kind]):
        try:
            value = _read_one(f.name, _base(hint), form[f.name].data)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        if value is not None:
            values[f.name] = value
        elif is_required(f, hint):
            errors[f.name] = f"「{label(f.name)}」を入力してください。"
    dates: dict[str, date | None] = {}
    for name in ("effective_on", "notified_on"):
        try:
            dates[name] = _day(name, form[name].data)
        except ValueError as exc:
            errors[name] = str(exc)
    remarks = (form["remarks"].data or "").strip()
    if len(remarks) > REMARKS_LIMIT:
        errors["remarks"] = f"備考は{REMARKS_LIMIT}文字以内で入力してください。"
    return Reading(values=values, effective_on=dates.get("effective_on"),
                   notified_on=dates.get("notified_on"), remarks=remarks, errors=errors)


def _read_one(name: str, base: Any, raw: Any) -> Any:
    if base is bool:
        return bool(raw)
    text = raw if isinstance(raw, str) else ""
    if get_origin(base) is list:
        codes = [c for c in _SPLIT.split(unicodedata.normalize("NFKC", text)) if c]
        if name in CODE_LIST_FIELDS:
            for code in codes:
                _check_code(name, code)
        return codes or None
    if get_origin(base) is dict:
        return _pairs(name, text) or None
    if len(text) > TEXT_LIMIT:
        raise ValueError(f"「{label(name)}」が長すぎます（{TEXT_LIMIT}文字まで）。")
    text = text.strip()
    if name in CODE_FIELDS or name in NUMBER_FIELDS or base is int:
        text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    if name in CODE_FIELDS:
        _check_code(name, text)
    if base is date:
        return _day(name, text)
    return text


def _check_code(name: str, code: str) -> None:
    if not is_valid_resident_code(code):
        raise ValueError(f"「{label(name)}」の {code} は住民票コードとして正しくありません"
                         "（11桁・検査数字を確認してください）。")


def _day(name: str, raw: object) -> date | None:
    """A complete date typed as ISO (the date input) or in the era form."""
    text = unicodedata.normalize("NFKC", raw).strip() if isinstance(raw, str) else ""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return PartialDate.parse(text).as_date()
    except DateError:
        raise ValueError(f"「{label(name)}」を日付として読み取れません"
                         "（例: 2026-04-01、令和8年4月1日）。") from None


def _pairs(name: str, text: str) -> dict[str, str]:
    by_label = {ITEM_LABELS[k]: k for k in RECORD_ITEMS}
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.replace("＝", "=").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            what = "住民票コード=続柄" if name == "relationships" else "項目=値"
            raise ValueError(f"「{label(name)}」は「{what}」の形で1行ずつ入力してください。")
        if name == "relationships":
            key = unicodedata.normalize("NFKC", key)
            _check_code(name, key)
        else:
            key = by_label.get(key, key)
            value = _item_value(key, value)
        pairs[key] = value
    return pairs


def _item_value(key: str, value: str) -> str:
    """Japanese ways of writing a corrected item's yes/no or sex, in the register's form."""
    if key in ("electoral_roll", "national_health_insurance", "long_term_care",
               "national_pension", "child_allowance"):
        if value in _TRUE:
            return "true"
        if value in _FALSE:
            return "false"
    if key == "sex":
        return _SEX.get(value, unicodedata.normalize("NFKC", value))
    return value


# -- errors and summaries --------------------------------------------------------------------


def place_error(form: ChangeForm, exc: RegisterError) -> tuple[str | None, str]:
    """Which input a register error belongs to (None: the form as a whole), and the message."""
    names = set(form.request_fields) | set(EXTRA_FIELDS)
    field_name = exc.fields.get("field")
    if isinstance(field_name, str) and field_name in names:
        return field_name, explain(exc, field_name)
    if isinstance(field_name, str) and "items" in form.request_fields:
        return "items", explain(exc, field_name)  # an item named inside ``items``
    code = exc.fields.get("resident_code")
    if isinstance(code, str):
        for name in form.request_fields:
            data = form[name].data
            if isinstance(data, str) and code in data:
                return name, explain(exc)
    return None, explain(exc)


def forget_secrets(form: ChangeForm) -> None:
    """Never send an individual number back in a re-shown form."""
    if "individual_number" in form.request_fields:
        form["individual_number"].data = ""


def summary(request: ChangeRequest) -> list[tuple[str, str]]:
    """The request's items as (label, value) lines, for the draft screen."""
    lines: list[tuple[str, str]] = []
    for f, hint in request_fields(type(request)):
        value = getattr(request, f.name)
        if value is None or value == "" or value == [] or value == {}:
            continue
        if value is False and not is_required(f, hint):
            continue
        lines.append((label(f.name), _shown(f.name, value)))
    return lines


def _shown(name: str, value: Any) -> str:
    if name == "individual_number" and isinstance(value, str):
        return mask_individual_number(value)
    if name == "action" and isinstance(value, str):
        return ACTION_LABELS.get(value, value)
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, Sex):
        return value.label
    if isinstance(value, (PartialDate, date)):
        return era_date(value)
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return "、".join(f"{label(str(k))}={v}" for k, v in value.items())
    return str(value)


def resident_codes(request: ChangeRequest) -> list[str]:
    """The resident codes a request names (for links to their records)."""
    found: list[str] = []
    for name in ("resident_codes", "resident_code", "parent_code", "join_household_of",
                 "target_code"):
        value = getattr(request, name, None)
        for code in value if isinstance(value, list) else [value]:
            if isinstance(code, str) and code and code not in found:
                found.append(code)
    return found
