"""The learning loop: families vote on answers (👍/👎 on the web, 「有用」/「没用」 in WeChat); questions the bot
could not answer and answers voted down wait on the console's 「待补充的问题」; a supervisor writes a curated
plain answer there, which is indexed at once and preferred for similar questions; 「命中测试」 shows what
retrieval finds for a typed question.

- words.py          vote words, question keys, masking long numbers
- records.py        one AnswerRecord per knowledge answer / not-covered reply; votes
- curated.py        writing, editing and retiring curated answers (validated, audited)
- curated_index.py  the curated answers in memory and in Chroma; the match that prefers one
- gaps.py           the open questions, grouped by similar wording
- hit_test.py       what retrieval and the bot would do with a typed question, storing nothing
"""
