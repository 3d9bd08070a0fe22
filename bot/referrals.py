"""Which public line to name when Tongban cannot answer (12333 labour, 12348 legal aid, 12345 government)."""

from __future__ import annotations

from bot.prompts import prompt_text, prompt_yaml


def referral_line(text: str) -> str | None:
    """The line sentence of the first word family in prompts/referral_lines.yaml found in `text`, or None."""
    for spec in prompt_yaml("referral_lines.yaml").values():
        if any(word in text for word in spec["words"]):
            return str(spec["line"])
    return None


def with_referral(reply: str, text: str) -> str:
    """`reply` with the fitting line (if any) on its own last line."""
    line = referral_line(text)
    return f"{reply}\n{line}" if line else reply


def not_covered_reply(text: str) -> str:
    return with_referral(prompt_text("replies/not_covered.txt"), text)
