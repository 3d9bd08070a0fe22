"""The bot's part while a counsellor holds the conversation (human mode).

Triage has run and the message is stored on the case (bot.pipeline). The bot sends no scripted support and
no knowledge answer. A message that raises the risk is marked on the case page and alerted to the counsellors;
whether the family also gets a safety reply at once depends on what rose:

- a higher level (a yellow case escalated to red): the red reply for the message, number to call first;
- a new emergency situation (a fall, a method such as pesticide = poisoning, a fire …) in a red message: the
  first-aid reply for that situation (120/110/119 first);
- a new red category (a red-level category the case did not have, e.g. a child at risk of suicide who is now
  being beaten): the red reply of that category, whatever category the conversation led with before;
- a new yellow category (e.g. bullying mentioned in a suicide case, or low mood in a red conversation whose red
  category is already known): the counsellor is alerted and the bot sends no script. The counsellor is in the
  conversation; a yellow script is exactly the scripted support that would talk over them, and the red script
  the family already had would only come again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.casework.cases import CaseChange
from bot.config import Settings
from bot.casework.notify_channels import alert_case
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


def safety_reply_for(result: Triage, change: CaseChange) -> Triage | None:
    """The triage whose red reply the family gets now (a new red category leads it), or None: no script."""
    if result.level != "red":
        return None
    if change.created or change.escalated or change.new_situation:
        return result
    new_red = [category for category in result.red_categories if category in change.new_categories]
    if not new_red:
        return None
    return replace(result, categories=(new_red[0], *(c for c in result.categories if c != new_red[0])))


def reply_in_human_mode(settings: Settings, result: Triage, change: CaseChange | None, message_id: int,
                        channel: str) -> HumanReply:
    if change is None or not change.raised:
        return HumanReply("", "human")
    safety = safety_reply_for(result, change)
    with session_scope(settings) as session:
        session.add(CaseEvent(case_id=change.case_id, kind="risk_raised", payload={
            "message_id": message_id, "level": result.level, "categories": list(result.categories),
            "new_categories": list(change.new_categories), "situation": result.situation,
            "crisis_reply": safety is not None,
        }))
    if not _already_alerted(change):
        alert_case(settings, {"kind": "risk_raised", "case_id": change.case_id, "severity": change.severity,
                              "categories": list(result.categories), "channel": channel, "team": change.team,
                              "teams": list(change.teams), "escalated": change.escalated})
    if safety is not None:
        return HumanReply(crisis_reply(safety, settings.local_hotlines), "crisis")
    return HumanReply("", "human")
