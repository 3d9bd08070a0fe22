"""Answer composition: extractive (default, offline) and LLM (optional), and WeChat-safe formatting."""

from bot.answer.model import Composed, Source

__all__ = ["Composed", "Source"]
