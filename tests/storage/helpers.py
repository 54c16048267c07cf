"""Small builders for register tests."""

from __future__ import annotations

from jukibridge.change_requests import Immigration
from jukibridge.records import Sex
from jukibridge.register import Register
from pki.eras import PartialDate


def arrive(register: Register, name: str = "山田　花子", kana: str = "ヤマダ　ハナコ", *,
           birth: str = "1990-05-03", sex: Sex = Sex.FEMALE, join: str | None = None,
           relationship: str = "世帯主", address: str = "並木三丁目1番1号",
           foreign: bool = False) -> str:
    """A resident who immigrates today; returns the new resident code."""
    extra: dict[str, object] = (
        {"foreign_resident": True, "nationality": "ベトナム",
         "residence_status": "技術・人文知識・国際業務"} if foreign else
        {"domicile": "埼玉県所沢市並木三丁目1番地", "domicile_head": name})
    outcome = register.perform("clerk", Immigration(
        name=name, name_kana=kana, birth_date=PartialDate.parse(birth), sex=sex,
        address=address, previous_address="アメリカ合衆国", join_household_of=join,
        relationship=relationship, **extra))  # type: ignore[arg-type]
    return outcome.resident_codes[0]
