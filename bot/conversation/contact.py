"""Who the person is and how to call them back (the `contacts` row of a channel user).

After the first red or yellow reply the bot asks once for a call-back number; the next message that holds a
phone number is stored on the person (a case event and an audit entry name it masked). Counsellors fill in or
correct relationship, the child's age, region and phone on the case page (bot.casework.workflow.update_contact).
"""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.console.audit import audit
from bot.storage.db import session_scope
from bot.storage.models import CaseEvent, Contact, utcnow

PHONE_RE = re.compile(r"(?<![\d-])(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![\d-])")
_MASK_RE = re.compile(r"^(.{3}).*(.{4})$")


def masked(phone: str) -> str:
    """138****1234: for lists, alerts and logs (the whole number only on the audited case page)."""
    return _MASK_RE.sub(lambda m: f"{m[1]}****{m[2]}", phone) if len(phone) >= 8 else phone


def only_a_number(text: str) -> bool:
    """「电话 13812345678」: a message that is little more than the number (a message that also tells what
    happened gets its usual reply, the number stored all the same)."""
    rest = re.sub(r"[\W_]", "", PHONE_RE.sub("", text))
    return len(rest) <= 8


def contact_of(session: Session, user_id: int) -> Contact:
    contact = session.get(Contact, user_id)
    if contact is None:
        contact = Contact(user_id=user_id, updated_at=utcnow())
        session.add(contact)
        session.flush()
    return contact


def ensure_contact(settings: Settings, user_id: int) -> None:
    """The person's contacts row, created in its own transaction: a person's simultaneous first messages
    both try, and the loser's IntegrityError only means the row is there."""
    try:
        with session_scope(settings) as session:
            if session.get(Contact, user_id) is None:
                session.add(Contact(user_id=user_id, updated_at=utcnow()))
    except IntegrityError:
        pass


def ask_for_callback(settings: Settings, user_id: int) -> bool:
    """True exactly once per person without a number: the reply then ends with the call-back question."""
    ensure_contact(settings, user_id)
    with session_scope(settings) as session:
        return session.execute(update(Contact).where(Contact.user_id == user_id, Contact.phone_asked_at.is_(None),
                                                     Contact.phone == "")
                               .values(phone_asked_at=utcnow(), updated_at=utcnow())).rowcount == 1


def capture_phone(settings: Settings, user_id: int, case_id: int | None, text: str) -> str | None:
    """Stores the number in a message answering the call-back question (asked, none stored yet); returns it."""
    found = PHONE_RE.search(text)
    if found is None:
        return None
    phone = found[1]
    with session_scope(settings) as session:
        contact = session.get(Contact, user_id)
        if contact is None or contact.phone_asked_at is None or contact.phone:
            return None
        contact.phone, contact.updated_at = phone, utcnow()
        if case_id is not None:
            session.add(CaseEvent(case_id=case_id, kind="callback_number", payload={"phone": masked(phone)}))
        audit(session, None, "callback_recorded", case_id, {"phone": masked(phone)})
    return phone
