"""A short scripted scenario on a demo instance: what a day at the counter looks like."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import func, select

from jukibridge import audit, municipalities, notices, operators, population, provision, workers
from jukibridge.change_requests import (
    Birth,
    ClericalFix,
    Death,
    Immigration,
    MoveIn,
    MoveOut,
    Relocation,
)
from jukibridge.errors import Conflict, RegisterError
from jukibridge.records import RecordState, Role, Sex
from jukibridge.tables import Operator, Person, RegisterSettings
from pki.card import Card
from pki.eras import PartialDate
from pki.signing import card_signer
from pki.signing.xml import sign_xml
from pki.verify import verify_xml
from web import secrets
from web.database import migrate
from web.enrolment import enrol
from web.evidence import OwnEvidence, trust_store
from web.services import Services

DEMO_HOME = "112089"  # 所沢市
DEMO_OTHER = "142034"  # 平塚市
# Demo credentials, printed by `jpki demo`; never use a demo instance for real data.
DEMO_OPERATORS = (
    ("demo-clerk", Role.CLERK, DEMO_HOME),
    ("demo-chief", Role.SUPERVISOR, DEMO_HOME),
    ("demo-hiratsuka", Role.CLERK, DEMO_OTHER),
)
DEMO_PASSWORD = "demo-password-0000"
DEMO_POPULATION = 300
DEMO_AUTH_PIN = "1234"  # demo only
DEMO_SIGNING_PASSWORD = "DEMO2026"  # demo only


def prepare(services: Services) -> None:
    """Migrate, load the municipality table and open the demo registers and operators."""
    services.settings.home.mkdir(parents=True, exist_ok=True)
    migrate(services.engine)
    with services.sessions() as session, session.begin():
        municipalities.load_table(session)
        provision.load_purposes(session)
        for code in (DEMO_HOME, DEMO_OTHER):
            if session.get(RegisterSettings, code) is None:
                municipalities.open_register(session, services.clock, code)
        for login, role, code in DEMO_OPERATORS:
            if session.get(Operator, login) is None:
                operators.add_operator(session, services.clock, login=login,
                                       password=DEMO_PASSWORD, role=role, municipality_code=code,
                                       display_name=f"demo {role.value}")
    secrets.card_seal_key(services.settings, create=True)
    if not os.environ.get("JPKI_CA_PASSPHRASE") and services.settings.key_store == "file":
        secrets.create_demo_passphrase(services.settings)
    services.ca.init()


def populate(services: Services, say: Callable[[str], None]) -> None:
    """Give 所沢市 its few hundred synthetic residents, unless it has them already."""
    with services.sessions() as session:
        residents = session.scalar(select(func.count()).select_from(Person).where(
            Person.municipality_code == DEMO_HOME, Person.state == RecordState.ACTIVE.value))
    if (residents or 0) < DEMO_POPULATION:
        report = population.generate(services.sessions, services.clock, DEMO_HOME,
                                     DEMO_POPULATION)
        say(f"population: {report.residents} synthetic residents in {report.households} "
            f"households of 所沢市")


def day_done(services: Services) -> bool:
    """Whether the scripted day has run on this instance: it is the only thing that puts
    records into 平塚市's register (its two residents move there), and they stay, even removed."""
    with services.sessions() as session:
        return session.scalar(select(Person.person_id).where(
            Person.municipality_code == DEMO_OTHER).limit(1)) is not None


def ensure(services: Services, say: Callable[[str], None]) -> bool:
    """The demo data once: prepare and populate, then the scripted day unless it already ran.
    Returns whether the day ran now (``jpki demo --serve``: re-running it just serves)."""
    if day_done(services):
        prepare(services)
        populate(services, say)
        say("demo data already in place: the scripted day is not run again")
        return False
    run(services, say)
    return True


def cards(services: Services) -> list[Path]:
    """The demo's virtual card images (made by the scripted day), oldest first."""
    folder = services.settings.home / "cards"
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.jcard"), key=lambda path: path.stat().st_mtime)


def run(services: Services, say: Callable[[str], None]) -> None:
    """Run the scenario, saying what each step did."""
    prepare(services)
    clock = services.clock
    populate(services, say)
    home = services.register(DEMO_HOME)
    other = services.register(DEMO_OTHER)
    clerk, chief = "demo-clerk", "demo-chief"
    today = home.today()

    arrival = home.perform(clerk, Immigration(
        name="山田　花子", name_kana="やまだ　はなこ",
        birth_date=PartialDate.parse("平成2年5月3日"),
        sex=Sex.FEMALE, address="並木三丁目1番1号", previous_address="アメリカ合衆国",
        domicile="埼玉県所沢市並木三丁目1番地", domicile_head="山田　花子",
        national_health_insurance=True, national_pension=True))
    mother = arrival.resident_codes[0]
    say(f"国外転入: 山田花子 arrives from abroad, resident code {mother}")

    baby = home.perform(clerk, Birth(
        parent_code=mother, name="山田　陽太", name_kana="ヤマダ　ヨウタ",
        birth_date=PartialDate.of(today), sex=Sex.MALE), notified_on=today)
    child = baby.resident_codes[0]
    say(f"出生: 山田陽太 born today, resident code {child}")

    card = enrol(services, operator=clerk, resident_code=mother, identity_document="在留カード",
                 auth_pin=DEMO_AUTH_PIN, signing_password=DEMO_SIGNING_PASSWORD,
                 out=services.settings.home / "cards" / f"{mother}.jcard")
    signing = card.pair.signing
    assert signing is not None
    say(f"カード交付: card {card.card_id} for 山田花子 at {card.path.name}: signing certificate "
        f"{signing.serial:x}, authentication certificate {card.pair.authentication.serial:x} "
        f"(demo PINs {DEMO_AUTH_PIN} / {DEMO_SIGNING_PASSWORD})")
    form = resources.files("pki").joinpath("signing/examples/tax_return.xml").read_bytes()
    with Card.open(card.path, secrets.card_seal_key(services.settings)) as held:
        submission = sign_xml(form, card_signer(held, DEMO_SIGNING_PASSWORD),
                              held.read_certificate("sign", DEMO_SIGNING_PASSWORD))
    (services.settings.home / "signed_tax_return.xml").write_bytes(submission)

    def verdict() -> str:
        report = verify_xml(submission, trust=trust_store(services.ca),
                            evidence=OwnEvidence(services.revocation), at=clock.now())
        (signature,) = report.signatures
        return f"{report.indication.value}" + (
            f"/{signature.sub_indication.value}" if signature.sub_indication else "")

    say(f"署名: the card signs an e-Tax-style submission (signed_tax_return.xml); "
        f"検証: {verdict()}")

    home.perform(clerk, Relocation(resident_codes=[mother, child], address="東町5番8号"),
                 notified_on=today)
    say("転居: the household moves to 埼玉県所沢市東町5番8号")
    workers.drain(services.sessions, clock)
    services.revocation.run_once()
    revocation = services.revocation.service
    signed = revocation.status(signing.issuer.key_id, signing.serial)
    auth = card.pair.authentication
    reason = signed.revocation.reason.value if signed.revocation else "-"
    say(f"失効: the address change reached the national server as a revocation notice; the "
        f"signing certificate is {signed.state.value} ({reason}), the authentication "
        f"certificate {revocation.status(auth.issuer.key_id, auth.serial).state.value}")
    say(f"検証 again: {verdict()}")

    draft = home.enter(clerk, ClericalFix(resident_code=mother, seq=1,
                                          items={"domicile": "埼玉県所沢市並木三丁目2番地"}))
    home.commit(chief, draft)
    say(f"誤記修正: draft {draft} entered by {clerk}, committed by supervisor {chief}")

    moving = home.perform(clerk, MoveOut(resident_codes=[mother, child],
                                         destination="神奈川県平塚市浅間町9番1号"),
                          effective_on=today + timedelta(days=7), notified_on=today)
    say(f"転出: both move out to 平塚市; move-out certificates {', '.join(moving.certificate_ids)}")

    head = other.perform("demo-hiratsuka", MoveIn(
        certificate_id=moving.certificate_ids[0], address="浅間町9番1号"))
    other.perform("demo-hiratsuka", MoveIn(
        certificate_id=moving.certificate_ids[1], address="浅間町9番1号",
        join_household_of=head.resident_codes[0], relationship="子"))
    say("転入: 平塚市 registers both with the certificates; same resident codes")
    workers.drain(services.sessions, clock)
    confirmed = home.record(mother, operator=clerk)
    say(f"転入通知: 平塚市's CS tells 所沢市's CS; the removed record now says "
        f"{confirmed.destination} ({confirmed.destination_confirmed_on})")

    try:
        home.perform(clerk, MoveIn(certificate_id=moving.certificate_ids[0],
                                   address="並木1番1号"))
    except Conflict as exc:
        say(f"refused as expected: {exc}")

    elderly = home.search(operator=clerk, birth_date=None, name_kana="ア") or home.search(
        operator=clerk, name_kana="カ")
    if elderly:
        code = elderly[0].resident_code
        home.perform(clerk, Death(resident_code=code), notified_on=today)
        say(f"死亡: {elderly[0].name} ({code}) removed; the record stays as 除票")

    moved = workers.drain(services.sessions, clock)
    with services.sessions() as session:
        feed = notices.read(session)
    say(f"住基ネット: identity events delivered CS → prefecture → national ({moved} in the last "
        f"round); {len(feed)} revocation notices in the feed")
    for notice in feed[-4:]:
        say(f"  異動等失効情報 #{notice.seq}: {notice.kind.value} {notice.resident_code} "
            f"({notice.change_reason})")

    given = provision.request(services.sessions, clock, agency="japan-pension-service",
                              purpose_id="pension-status-check", resident_code=mother)
    say(f"本人確認情報の提供: 日本年金機構 receives {given.identity.name}'s identity info "
        f"({given.purpose.legal_basis})")
    try:
        provision.request(services.sessions, clock, agency="japan-pension-service",
                          purpose_id="construction-permit", resident_code=mother)
    except RegisterError as exc:
        say(f"refused and logged: {exc}")
    disclosed = provision.history(services.sessions, mother)
    given_count = sum(1 for r in disclosed if r.outcome is provision.Outcome.PROVIDED)
    say(f"開示: {len(disclosed)} requests for {mother}'s identity info on record "
        f"({given_count} answered)")

    history = home.history(mother, operator=chief)
    say(f"history of {mother}: " + " → ".join(f"{r.seq}:{r.kind.label}" for r in history))
    with services.sessions() as session:
        chain = audit.verify(session)
    say(f"audit chain intact: {chain.entries} entries")
    say(f"demo operators: {', '.join(login for login, _, _ in DEMO_OPERATORS)} "
        f"(password {DEMO_PASSWORD}, demo only)")
