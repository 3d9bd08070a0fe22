"""The conversation's state: who answers the person now (bot or counsellor), who they are, what was said, and
what the bot may still say. The other half of the product, cases and the people who work them, is bot.casework.

modes.py    bot/human mode per channel user (entered by a counsellor's message, left on hand-back, close or idle)
human.py    the bot's part in human mode: safety replies when risk rises, the counsellor alerted, otherwise quiet
family.py   a line from the service to the family through their channel (web, 客服消息, or 订阅号 held reply)
timers.py   the holding line and the idle hand-back, run periodically
contact.py  the call-back number: asked once after a red or yellow reply, stored on the person
profile.py  region, relationship and the children's ages learned from what the person says
intents.py  greetings, introductions, asking for a person, menu words: replies that need no retrieval
memory.py   the recent turns a follow-up question is read with
"""
