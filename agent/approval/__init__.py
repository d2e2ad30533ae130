"""Approval: the queue of drafts (approve, edit, reject, retry) and the calendar's approval policies."""
