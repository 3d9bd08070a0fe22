"""Safety triage: risk levels, detectors, crisis replies and conversation-level risk."""

from bot.safety.model import Triage
from bot.safety.replies import crisis_reply
from bot.safety.triage import triage

__all__ = ["Triage", "crisis_reply", "triage"]
