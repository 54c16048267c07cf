"""How the register is shown at the counter: Japanese labels, era dates, Japanese messages.

The register's own errors are written for developers and the command line (English, with
structured fields); ``explain`` turns one into a plain Japanese sentence for the counter. Values
that a message quotes back (an individual number, say) are never repeated in it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from jukibridge.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RegisterError,
)
from jukibridge.records import ChangeKind
from pki.eras import PartialDate

JST = timezone(timedelta(hours=9), "JST")
_LATIN = re.compile(r"[A-Za-z]")

# Every item of a request and of a record, by its code name (GLOSSARY.md).
ITEM_LABELS: dict[str, str] = {
    "name": "氏名",
    "name_kana": "フリガナ",
    "former_surname": "旧氏",
    "alias": "通称",
    "alias_kana": "通称のフリガナ",
    "birth_date": "生年月日",
    "sex": "性別",
    "foreign_resident": "外国人住民",
    "nationality": "国籍・地域",
    "residence_status": "在留資格",
    "residence_period_end": "在留期間の満了日",
    "domicile": "本籍",
    "domicile_head": "筆頭者",
    "electoral_roll": "選挙人名簿登録",
    "national_health_insurance": "国民健康保険",
    "long_term_care": "介護保険",
    "national_pension": "国民年金",
    "child_allowance": "児童手当",
    "parent_code": "親の住民票コード",
    "relationship": "続柄",
    "address": "住所",
    "previous_address": "従前の住所",
    "join_household_of": "加わる世帯の世帯員の住民票コード",
    "individual_number": "個人番号",
    "resident_code": "住民票コード",
    "resident_codes": "対象者の住民票コード",
    "certificate_id": "転出証明書の番号",
    "destination": "転出先",
    "destination_code": "転出先の全国地方公共団体コード",
    "special": "特例転出（カードをお持ちの方）",
    "items": "修正する項目",
    "seq": "誤記のある履歴番号",
    "action": "世帯変更の種類",
    "target_code": "加わる世帯の世帯員の住民票コード",
    "relationships": "続柄",
    "change_id": "取り消す異動の番号",
    "effective_on": "異動日",
    "notified_on": "届出日",
    "remarks": "備考",
    "became_resident_on": "住民となった年月日",
    "address_fixed_on": "住所を定めた年月日",
    "address_notified_on": "住所を定めた旨の届出年月日",
    "household_id": "世帯番号",
    "municipality_code": "全国地方公共団体コード",
    "reason": "却下の理由",
    "at": "交付する市区町村",
}

# Items of a record that a correction may name (by code name or by label).
RECORD_ITEMS = (
    "name", "name_kana", "former_surname", "alias", "alias_kana", "birth_date", "sex",
    "nationality", "residence_status", "residence_period_end", "relationship", "domicile",
    "domicile_head", "address", "previous_address", "became_resident_on", "address_fixed_on",
    "electoral_roll", "national_health_insurance", "long_term_care", "national_pension",
    "child_allowance",
)
ACTION_LABELS = {"split": "世帯分離", "merge": "世帯合併", "head": "世帯主変更"}
ROLE_LABELS = {"clerk": "担当者", "supervisor": "監督者", "auditor": "監査担当"}
STATUS_LABELS = {"draft": "仮登録（確定待ち）", "committed": "確定済み",
                 "cancelled": "取消済み", "rejected": "却下済み"}
YES, NO = "あり", "なし"


def label(item: str) -> str:
    """The Japanese label of an item (its code name if it has none)."""
    return ITEM_LABELS.get(item, item)


def slug(kind: ChangeKind) -> str:
    """The URL form of a change kind: ``RELOCATION`` → ``relocation``, ``MOVE_OUT`` →
    ``move-out``."""
    return kind.name.lower().replace("_", "-")


def kind_of_slug(text: str) -> ChangeKind | None:
    """The change kind of a URL slug, or None for anything else."""
    if text != text.lower() or "_" in text:
        return None
    return ChangeKind.__members__.get(text.upper().replace("-", "_"))


def era_date(value: date | PartialDate | None) -> str:
    """A date in the era form of the register (``令和8年4月1日``); empty for none."""
    if value is None:
        return ""
    if isinstance(value, PartialDate):
        return value.japanese()
    if isinstance(value, datetime):
        value = value.astimezone(JST).date()
    return PartialDate.of(value).japanese()


def jst_datetime(value: datetime | None) -> str:
    """An instant as the counter's clock shows it: ``令和8年4月1日 10:00``."""
    if value is None:
        return ""
    local = value.astimezone(JST)
    return f"{PartialDate.of(local.date()).japanese()} {local:%H:%M}"


def yes_no(value: bool) -> str:
    return YES if value else NO


# -- register errors in Japanese -------------------------------------------------------------

# The domain's English wording → a Japanese sentence; ``{label}`` is the item's label. First
# match wins; anything else gets the general sentence of its error class.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text) for pattern, text in (
        (r"must be \d+ digits", "「{label}」は決められた桁数の数字で入力してください。"),
        (r"wrong check digit", "「{label}」の検査数字が一致しません。番号を確認してください。"),
        (r"is required", "「{label}」を入力してください。"),
        (r"is empty|cannot be empty", "「{label}」を入力してください。"),
        (r"longer than", "「{label}」が長すぎます。"),
        (r"must be written in kana", "「{label}」はカタカナまたはひらがなで入力してください。"),
        (r"characters a name cannot have", "「{label}」に使えない文字が含まれています。"),
        (r"cannot read", "「{label}」を読み取れません。書き方を確認してください。"),
        (r"unknown item", "「{label}」は入力できない項目です。"),
        (r"cannot be corrected this way", "「{label}」はこの手続では修正できません。"),
        (r"address is not in", "住所はこの市区町村内の住所を入力してください。"),
        (r"address needs more than", "住所は町名・番地まで入力してください。"),
        (r"address is unchanged", "住所が変わっていません。"),
        (r"already lives at that address", "すでにその住所に住んでいます。"),
        (r"effective date is too far", "異動日が先の日付すぎます。"),
        (r"notification date is in the future", "届出日に未来の日付は入力できません。"),
        (r"birth date is in the future", "生年月日に未来の日付は入力できません。"),
        (r"birth needs the full birth date",
         "出生の届出には生年月日を年月日まで入力してください。"),
        (r"birth takes effect on the birth date", "出生の異動日は生年月日と同じ日です。"),
        (r"newborn joins", "出生した子は親の世帯に入ります。続柄を確認してください。"),
        (r"foreign resident needs nationality",
         "外国人住民は国籍・地域と在留資格を入力してください。"),
        (r"only Japanese nationals have a registered domicile",
         "本籍・筆頭者は日本国籍の方のみの項目です。"),
        (r"not on the electoral roll", "外国人住民は選挙人名簿に登録されません。"),
        (r"items of foreign residents only", "国籍・在留資格・通称は外国人住民のみの項目です。"),
        (r"needs a registered domicile", "日本国籍の方は本籍を入力してください。"),
        (r"joining a household needs a relationship",
         "世帯に加わる方は世帯主との続柄を入力してください。"),
        (r"new household is its head", "新しい世帯をつくる方の続柄は「世帯主」です。"),
        (r"individual number belongs", "その個人番号は現在の住民に使われています。"),
        (r"give the move-out certificate", "転出証明書の番号、または特例転入の住民票コードを"
                                           "入力してください。"),
        (r"no special-move data", "この方の特例転出の情報はまだ届いていません。"),
        (r"no such move-out certificate", "その転出証明書は見つかりません。"),
        (r"already used for a move-in", "その転出証明書はすでに転入に使われています。"),
        (r"move inside the municipality", "同じ市区町村内の引越しは転居として届け出てください。"),
        (r"is already a resident", "この方はすでにどこかの住民として記録されています。"),
        (r"special move names the destination",
         "特例転出では転出先の全国地方公共団体コードを入力してください。"),
        (r"is not on the network", "その転出先の市区町村にはつながっていません。"),
        (r"lists a resident twice", "同じ住民票コードが2回入力されています。"),
        (r"name is unchanged", "氏名・フリガナが変わっていません。"),
        (r"no items to correct", "修正する項目を入力してください。"),
        (r"changes nothing", "現在の内容と同じため、修正されません。"),
        (r"minor correction changes characters",
         "軽微な修正は、文字を1文字ずつ通用字体に置き換えるものです。"),
        (r"give the corrected name or address", "修正後の氏名または住所を入力してください。"),
        (r"no snapshot", "その履歴番号の履歴はありません。"),
        (r"split takes members of one household", "世帯分離は同じ世帯の方についてのみできます。"),
        (r"split must leave someone", "世帯分離の後にも元の世帯に残る方が必要です。"),
        (r"head cannot be split off", "世帯主は分離できません。先に世帯主を変更してください。"),
        (r"merge needs the target", "加わる世帯の世帯員の住民票コードを入力してください。"),
        (r"already in that household", "すでにその世帯の世帯員です。"),
        (r"give the relationship of", "世帯主との続柄を「住民票コード=続柄」の形で"
                                      "入力してください。"),
        (r"relationships name residents", "続柄の欄に、この手続の対象でない方が含まれています。"),
        (r"already heads the household", "この方はすでに世帯主です。"),
        (r"former head's new relationship", "元の世帯主の新しい続柄を入力してください。"),
        (r"action is one of", "世帯変更の種類を選んでください。"),
        (r"not removed by a move-out", "この住民票は転出による消除ではありません。"),
        (r"move-in was already confirmed", "この転入通知はすでに受理されています。"),
        (r"cannot be cancelled", "この異動は取り消せません。新たに異動を入力してください。"),
        (r"changed after change", "この後に別の異動があります。先に後の異動を取り消してください。"),
        (r"resident elsewhere now", "この方は現在ほかの市区町村の住民です。"),
        (r"would be active twice", "住民票コードが重複するため登録できません。"),
        (r"is not a draft", "この異動はすでに確定または取消されています。"),
        (r"committed by a supervisor", "監督者の確定が必要です。"),
        (r"committed by a second operator", "入力した方とは別の監督者が確定してください。"),
        (r"needs a supervisor", "監督者の確定が必要です。"),
        (r"keeps no register here", "その市区町村の住民基本台帳はこのシステムにありません。"),
        (r"may not issue copies", "この操作者は住民票の写しを交付できません。"),
    ))

_GENERAL: tuple[tuple[type[RegisterError], str], ...] = (
    (InvalidInput, "入力内容に誤りがあります。内容を確認してください。"),
    (NotFound, "該当する情報が見つかりません。"),
    (Conflict, "現在の住民基本台帳の内容と合わないため、受け付けられません。"),
    (PermissionDenied, "この操作を行う権限がありません。"),
    (AuthenticationFailed, "本人確認ができませんでした。"),
)


def explain(exc: RegisterError, item: str | None = None) -> str:
    """A Japanese sentence for a register error; ``item`` overrides the item it names.

    An error raised by the counter itself is already in Japanese (no Latin letters at all,
    whereas the register's own messages are English sentences) and is kept as it is.
    """
    if not _LATIN.search(exc.message):
        return exc.message
    field = item or _field_of(exc)
    code = exc.fields.get("resident_code")
    if isinstance(code, str) and code:
        if isinstance(exc, NotFound):
            return f"住民票コード {code} の方は、この市区町村の住民基本台帳に見つかりません。"
        if isinstance(exc, Conflict) and "removed" in exc.message:
            return f"住民票コード {code} の方の住民票は消除されています（除票）。"
    if isinstance(exc, NotFound) and re.search(r"^no change \d+", exc.message):
        return "指定された異動は見つかりません。"
    text = _sentence(exc, field)
    if isinstance(code, str) and code:
        text = text.removesuffix("。") + f"（住民票コード {code}）。"
    return text


def _sentence(exc: RegisterError, field: str | None) -> str:
    for pattern, text in _PATTERNS:
        if pattern.search(exc.message):
            return text.format(label=label(field) if field else "入力内容")
    for cls, text in _GENERAL:
        if isinstance(exc, cls):
            if field and isinstance(exc, InvalidInput):
                return f"「{label(field)}」の内容に誤りがあります。内容を確認してください。"
            return text
    return "この操作は完了しませんでした。"


def _field_of(exc: RegisterError) -> str | None:
    value = exc.fields.get("field")
    return value if isinstance(value, str) else None


def japanese(exc: RegisterError) -> RegisterError:
    """The same kind of error with its message in Japanese, for an error page."""
    translated = type(exc)(explain(exc), **exc.fields)
    translated.__cause__ = exc
    return translated


KIND_HELP: dict[ChangeKind, str] = {
    ChangeKind.BIRTH: "出生届により、子を親の世帯に記録します。異動日は生年月日です。",
    ChangeKind.DEATH: "死亡届により住民票を消除します。異動日には死亡日を入力してください。",
    ChangeKind.MOVE_IN: "転出証明書（特例転入の場合は住民票コード）により転入を記録します。",
    ChangeKind.IMMIGRATION: "国外から転入した方を記録します。",
    ChangeKind.MOVE_OUT: "他の市区町村への転出を記録し、転出証明書を作成します。",
    ChangeKind.EMIGRATION: "国外への転出を記録します。",
    ChangeKind.RELOCATION: "市区町村内での住所の変更を記録します。",
    ChangeKind.NAME_CHANGE: "婚姻・養子縁組等による氏名の変更を記録します。",
    ChangeKind.CORRECTION: "職権により住民票の記載事項を修正します。",
    ChangeKind.MINOR_CORRECTION: "氏名・住所の文字を通用字体に改めます。",
    ChangeKind.CLERICAL_FIX: "入力誤りのあった履歴を、正しい内容で記録し直します。",
    ChangeKind.HOUSEHOLD_CHANGE: "世帯分離・世帯合併・世帯主の変更を記録します。",
    ChangeKind.RESIDENT_CODE_CHANGE: "本人の申請により住民票コードを変更します"
                                     "（新しいコードは無作為に付番されます）。",
    ChangeKind.MOVE_IN_CONFIRMED: "転入地からの転入通知を受理し、転出先を確定します。",
    ChangeKind.CANCELLATION: "確定済みの異動を取り消します。",
}
