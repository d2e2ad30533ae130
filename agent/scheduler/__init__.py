"""The hands-off service behind ``reeltwin run``: APScheduler 3 driving idempotent sweeps."""
