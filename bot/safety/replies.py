"""Fixed crisis and support replies: template files under prompts/crisis/, chosen by level, category,
situation and speaker.

A red reply puts the number to call on its first line, then at most four one-line actions for what happened
(red_emergency_<situation>), the national lines, that a counsellor will contact them, and one question. A
child who writes gets the child's words (<name>_child: 你, 找一个你信得过的大人, 12355 first); a guardian in
their own crisis gets red_guardian_crisis. Yellow replies give one or two steps and end with a question.
Local lines from settings are added after the national numbers. Sources: prompts/crisis/sources.yaml.

Fallback order (the first file that exists):
  red emergency:  red_emergency_<situation>_<speaker>, red_emergency_<situation>,
                  red_emergency_other_<speaker>, red_emergency_other   (situation "none" counts as "other")
  own life:       a red suicide / self_harm / guardian_crisis goes to red_guardian_crisis when the writer is
                  the one at risk (speaker guardian_self, or an adult who writes 我), and to
                  red_adult_crisis(_child) when another adult is (a neighbour reporting an old woman, a parent
                  whose mother says she is done with living; bot.safety.subject)
  otherwise:      for a child: <level>_<category>_child, <level>_default_child, <level>_<category>, <level>_default;
                  for a parent away or a bystander: <level>_<category>_<speaker>, <level>_<category>,
                  <level>_default_<speaker>, <level>_default (what happened matters more than who writes:
                  a parent's missing child gets the missing text before a general one)
A parent working away cannot 「先让孩子待在您身边」: their text asks them to send someone who can. A bystander
(a neighbour, a teacher) is thanked for speaking up, told to call 110 and not to confront anyone alone, and
pointed to the child's family, school and the village 儿童主任.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bot.config import get_settings
from bot.errors import ConfigError
from bot.safety.model import Triage
from bot.safety.subject import AT_RISK_OWN_LIFE

# Adults who are not carers writing about a child: their 我 is themselves.
_ADULT_SPEAKERS = frozenset({"guardian_self", "guardian_about_child", "parent", "bystander"})
# Adults who are not beside the child or not its family: texts of their own where one exists.
_AWAY_OR_OUTSIDE = frozenset({"parent", "bystander"})


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"crisis reply template missing: {path}") from exc


def template_candidates(triage: Triage) -> list[str]:
    """Template stems in fallback order for a red or yellow triage ([] for green)."""
    if triage.level == "green":
        return []
    level, category = triage.level, triage.category
    variant = ["child"] if triage.speaker == "child" else []
    if level == "red" and category in AT_RISK_OWN_LIFE:
        if triage.speaker == "guardian_self" or (triage.subject == "writer" and triage.speaker in _ADULT_SPEAKERS):
            category = "guardian_crisis"
        elif triage.subject == "adult":
            category = "adult_crisis"
    if level == "red" and category == "emergency":
        # What to do for this situation comes first, even for a child (a fire needs 119 and getting out).
        situation = triage.situation if triage.situation not in ("none", "missing") else "other"
        return [name for stem in (f"red_emergency_{situation}", "red_emergency_other")
                for name in [*(f"{stem}_{v}" for v in variant), stem]]
    stems = [f"{level}_{category}", f"{level}_default"]
    if level == "yellow" and category == "abuse" and triage.writer_hits and triage.speaker != "child":
        # The writer hit the child and asks what to do: what works instead, not 「还有人打孩子，请打110」.
        return ["yellow_abuse_writer", *stems]
    if triage.speaker in _AWAY_OR_OUTSIDE:
        return [name for stem in stems for name in (f"{stem}_{triage.speaker}", stem)]
    return [f"{stem}_{v}" for stem in stems for v in variant] + stems


def template_name(triage: Triage) -> str | None:
    """The template file stem for this triage, or None for green."""
    crisis_dir = get_settings().prompts_dir / "crisis"
    candidates = template_candidates(triage)
    for name in candidates:
        if (crisis_dir / f"{name}.txt").exists():
            return name
    if candidates:
        raise ConfigError(f"no crisis reply template among {candidates} in {crisis_dir}")
    return None


def crisis_reply(triage: Triage, local_hotlines: str = "") -> str:
    """The fixed reply for a red or yellow triage ("" for green), with local lines when configured."""
    name = template_name(triage)
    if name is None:
        return ""
    template = _read(get_settings().prompts_dir / "crisis" / f"{name}.txt")
    local = local_hotlines.strip()
    return template.replace("{local_lines}", f"、{local}" if local else "")
