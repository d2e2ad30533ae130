"""ReelTwin's publishing library: Instagram publishers, the outbox, peak-time model.

A library: it never imports ``agent`` or ``render`` and never reads the
application's settings or the environment; callers pass its config in.
"""


class PublishError(Exception):
    """Root of the publishing errors: the message names the input and the fix."""
