"""CS-to-CS exchange between municipalities: move-in notices and special-move data.

- A move-in at the destination sends a **move-in notice** (転入通知) back to the origin, whose
  CS then finalises the removed record with the confirmed destination and date.
- A **special move** (転入転出の特例, for card holders): the origin's move-out sends the
  move-out certificate data to the destination's CS, so the resident only visits the
  destination's counter, where the move-in is keyed by resident code from that data and
  accepted on presentation of an active card of one of the residents who moved together.

Messages are written in the sender's change transaction and applied by the recipient's CS worker
(``deliver``), one transaction per message, exactly once.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit
from jukibridge.change_requests import MoveInConfirmation
from jukibridge.errors import RegisterError
from jukibridge.tier_tables import CsExpectedArrival, CsMessage
from pki.clock import Clock

MOVE_IN_NOTICE = "move_in_notice"
MOVE_OUT_DATA = "move_out_data"


def send(session: Session, clock: Clock, *, sender: str, recipient: str, kind: str,
         payload: dict[str, Any]) -> None:
    """Queue a message to ``recipient``'s CS in the caller's transaction."""
    session.add(CsMessage(sender_code=sender, recipient_code=recipient, kind=kind,
                          payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                          sent_at=clock.now()))


def expected_arrival(session: Session, municipality_code: str, resident_code: str
                     ) -> CsExpectedArrival | None:
    """The newest special move of ``resident_code`` announced to this municipality."""
    return session.scalars(select(CsExpectedArrival).where(
        CsExpectedArrival.municipality_code == municipality_code,
        CsExpectedArrival.resident_code == resident_code)
        .order_by(CsExpectedArrival.arrival_id.desc())).first()


def deliver(sessions: sessionmaker[Session], clock: Clock, *, batch: int = 1000) -> int:
    """Apply pending messages in order; returns how many were handled."""
    from jukibridge.register import Register  # the register commits received changes

    with sessions() as session:
        pending = session.execute(select(CsMessage.message_id, CsMessage.recipient_code).where(
            CsMessage.applied_at.is_(None)).order_by(CsMessage.message_id).limit(batch)).all()
    # Built before the message transactions: a register reads its settings in a session of its
    # own, which must not wait on the write lock a message transaction holds.
    registers = {code: Register(sessions, clock, code) for code in {r[1] for r in pending}}
    handled = 0
    for message_id, _ in pending:
        with sessions() as session, session.begin():
            message = session.get(CsMessage, message_id, with_for_update=True)
            if message is None or message.applied_at is not None:
                continue  # another worker took it
            payload = json.loads(message.payload)
            savepoint = session.begin_nested()
            try:
                if message.kind == MOVE_IN_NOTICE:
                    registers[message.recipient_code].receive(session, MoveInConfirmation(
                        certificate_id=payload["certificate_id"],
                        destination=payload["destination"]),
                        actor=f"cs:{message.sender_code}",
                        effective_on=date.fromisoformat(payload["moved_in_on"]))
                elif message.kind == MOVE_OUT_DATA:
                    session.add(CsExpectedArrival(
                        municipality_code=message.recipient_code,
                        resident_code=payload["resident_code"],
                        certificate_id=payload["certificate_id"],
                        origin_code=message.sender_code, received_at=clock.now(),
                        card_ids=json.dumps(payload.get("card_ids", []))))
                else:
                    raise ValueError(f"unknown message kind {message.kind!r}")
                savepoint.commit()
                message.result = "applied"
            except (RegisterError, ValueError) as exc:
                savepoint.rollback()  # the message is answered, not retried for ever
                message.result = f"refused: {exc}"[:200]
                audit.record(session, clock, actor=f"cs:{message.recipient_code}",
                             action="cs.message.refused", target=f"message:{message_id}",
                             municipality_code=message.recipient_code,
                             details={"kind": message.kind, "reason": str(exc)[:150]})
            message.applied_at = clock.now()
            handled += 1
    return handled

