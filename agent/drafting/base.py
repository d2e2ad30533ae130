"""What a draft is, and how drafting fails."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from agent.errors import AgentError


class DraftingError(AgentError):
    """The model or its server failed, or never produced a valid draft; nothing was stored."""


class ModelOutput(BaseModel):
    """The JSON object the model must return (also the JSON schema sent to the server)."""

    hook: str = Field(description="one short opening sentence that makes viewers stay")
    script: str = Field(description="every word the creator says, spoken words only")
    on_screen_title: str = Field(description="a title shown on screen, at most 6 words")
    caption: str = Field(description="the Instagram caption, 1-3 short sentences")
    hashtags: list[str] = Field(description="hashtags, each starting with #")
    cta: str = Field(description="the call to action, as said at the end of the script")


@dataclass(frozen=True)
class DraftRequest:
    """Everything the prompt needs; plain values, built from the calendar and the database."""

    handle: str
    language: str
    persona: dict
    pillar: str | None
    pillar_description: str
    example_topics: list[str]
    brief: str | None
    call_to_action: str
    word_budget: int
    hashtag_set: list[str]
    max_hashtags: int
    avoid_words: list[str]
    recent_hooks: list[str] = field(default_factory=list)
    recent_topics: list[str] = field(default_factory=list)
    feedback: str | None = None
    previous_script: str | None = None
    points: list[str] = field(default_factory=list)     # facts the script must carry (calendar `points:`)
    must_say: list[str] = field(default_factory=list)   # phrases said word for word (calendar `must_say:`)
    #: the account's best-performing published hooks (by Instagram's engagement), as examples of what this audience likes
    best_hooks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    hook: str
    script: str
    on_screen_title: str
    caption: str
    hashtags: list[str]
    cta: str
    attempts: int
    seconds: float
    first_try_valid: bool
    trimmed: bool
    warnings: list[str]
    model: str
    #: points-first assembly (agent.drafting.assembly): (parts the model's words were kept for, parts it was asked for)
    model_written: tuple[int, int] | None = None
