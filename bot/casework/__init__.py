"""Casework: what happens after triage flags a message, the half of the product counsellors work in.

cases.py              open, escalate and route a case (categories, region -> team queue; routing_teams.yaml)
workflow.py           a counsellor's actions on a case: claim, reply, call, refer, report, follow up, close
flood.py              many cases from one source grouped into one flagged case (no delay to any reply)
notify.py             alerts to the teams concerned when a case opens, escalates or waits too long
notify_channels.py    where alerts go (webhook, WeCom group robot, WeChat template messages)
routing_teams.yaml    category -> team map, and local teams by region

The conversation's own state (bot or human mode, profile, memory, intents) lives in bot.conversation; the
console's pages are handlers/console*.py over bot.console.
"""
