"""Counsellor console core: accounts and sessions, queue and case views, replies, reports, SLA alerts.

Channel-agnostic: handlers/console*.py renders it; the case state machine is bot/casework/workflow.py.
"""
