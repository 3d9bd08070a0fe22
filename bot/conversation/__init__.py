"""The conversation's state: who answers the person now (bot or counsellor), and what the bot may still say.

modes.py   bot/human mode per channel user (entered by a counsellor's message, left on hand-back, close or idle)
human.py   the bot's part in human mode: safety replies when risk rises, the counsellor alerted, otherwise quiet
family.py  a line from the service to the family through their channel (web, 客服消息, or 订阅号 held reply)
timers.py  the holding line and the idle hand-back, run periodically
"""
