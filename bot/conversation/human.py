"""The bot's part while a counsellor holds the conversation (human mode).

Triage has run and the message is stored on the case (bot.pipeline). The bot sends no scripted support and
no knowledge answer. A message that raises the risk (a higher level, a new category, a new emergency
situation) is marked on the case page and alerted to the counsellors; when it is red the family also gets
the situation's crisis reply (120/110/119 first) at once. A yellow rise is left to the counsellor: a yellow
script is exactly the scripted support that would talk over them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cases import CaseChange
from bot.config import Settings
from bot.notify_channels import alert_case
from bot.safety import Triage, crisis_reply
from bot.storage.db import session_scope
from bot.storage.models import CaseEvent


@dataclass(frozen=True)
class HumanReply:
    text: str  # "" = the bot stays quiet; the counsellor answers
    intent: str  # "crisis" | "human"


def _already_alerted(change: CaseChange) -> bool:
    """The pipeline alerts a new or newly red case itself (bot.pipeline.Conversation._notify)."""
    return change.severity == "red" and (change.created or change.escalated)


def reply_in_human_mode(settings: Settings, result: Triage, change: CaseChange | None, message_id: int,
                        channel: str) -> HumanReply:
    if change is None or not change.raised:
        return HumanReply("", "human")
    with session_scope(settings) as session:
        session.add(CaseEvent(case_id=change.case_id, kind="risk_raised", payload={
            "message_id": message_id, "level": result.level, "categories": list(result.categories),
            "situation": result.situation, "crisis_reply": result.level == "red",
        }))
    if not _already_alerted(change):
        alert_case(settings, {"kind": "risk_raised", "case_id": change.case_id, "severity": change.severity,
                              "categories": list(result.categories), "channel": channel, "team": change.team,
                              "teams": list(change.teams), "escalated": change.escalated})
    if result.level == "red":
        return HumanReply(crisis_reply(result, settings.local_hotlines), "crisis")
    return HumanReply("", "human")
