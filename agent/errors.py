"""The application's errors. The CLI prints these as one line and exits with ``EXIT_USER_ERROR``."""

from __future__ import annotations

#: The exit status of every user error (bad input, bad config, a refusal): the one spelling of 2.
EXIT_USER_ERROR = 2


class AgentError(Exception):
    """Root of the errors a user can fix: the message names the input and the fix."""


class ConfigError(AgentError, ValueError):
    """A setting is missing, misspelled or out of range."""


class CalendarError(AgentError, ValueError):
    """A content calendar file is invalid. ``problems`` holds one ``file:line: message`` each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(self.problems[0] if len(self.problems) == 1 else f"{len(self.problems)} problems:\n" + "\n".join(self.problems))


class NotFoundError(AgentError, LookupError):
    """A reel, slot or creator does not exist."""


class InvalidTransitionError(AgentError, ValueError):
    """A reel cannot move from its current state to the requested one."""

    def __init__(self, reel_id: int | None, current: str, target: str, hint: str = ""):
        self.reel_id, self.current, self.target = reel_id, current, target
        who = f"reel {reel_id}" if reel_id is not None else "reel"
        message = f"{who}: cannot go from {current!r} to {target!r}"
        super().__init__(message + (f"; {hint}" if hint else ""))


class ValidationFailed(AgentError, ValueError):
    """User-supplied content (a script, a caption) breaks a rule."""
