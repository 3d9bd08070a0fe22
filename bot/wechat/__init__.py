"""WeChat 公众号 support: reply formatting, API client, delivery outbox, menu command.

The HTTP side lives in handlers/wechat.py; everything here is usable without a web server.
"""
