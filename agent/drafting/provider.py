"""Talking to any OpenAI-compatible server with the `openai` client; errors translated at this boundary.

Retries: the client retries connection errors, timeouts, 408/409/429 and 5xx
with exponential backoff and honours ``Retry-After`` (``drafting.max_retries``
times); what still fails becomes one :class:`DraftingError` naming the setting
to change.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from agent.drafting.base import DraftingError

log = logging.getLogger(__name__)

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
EMBEDDED_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class ProviderConfig:
    base_url: str | None          # None: api.openai.com
    api_key: str | None
    model: str
    temperature: float
    timeout_s: float
    max_retries: int
    response_format: str          # auto | json_schema | json_object | none
    embedded: bool = False
    max_tokens: int = 700
    seed: int | None = None


class ChatProvider:
    """``complete(messages, schema) -> text`` over the openai client, with structured output where the server has it."""

    def __init__(self, config: ProviderConfig, *, http_client: Any = None):
        from openai import OpenAI

        self.config = config
        self.seed_offset = 0   # set by the scheduler when it retries a slot that failed before
        self.where = config.base_url or "https://api.openai.com/v1"
        self.client = OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",  # local servers ignore it; the client insists on one
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            http_client=http_client,
        )
        self.format = config.response_format
        if self.format == "auto":
            # llama.cpp's server turns {"type": "json_object", "schema": ...} into a grammar; OpenAI,
            # vLLM, Ollama and LM Studio accept the json_schema form.
            self.format = "json_object" if config.embedded else "json_schema"

    def _response_format(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        if self.format == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": "reel_draft", "schema": _strict(schema), "strict": True}}
        if self.format == "json_object":
            return {"type": "json_object", "schema": schema} if self.config.embedded else {"type": "json_object"}
        return None

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], *, deadline: float | None = None) -> str:
        """The model's text; with ``deadline`` (a ``time.monotonic()`` value) the request and its retries end by then."""
        import openai

        client, timeout_s, retries, cut = self.client, self.config.timeout_s, self.config.max_retries, False
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining < 1:
                raise DraftingError("drafting: no time left in drafting.max_seconds for another request; raise drafting.max_seconds")
            if remaining < timeout_s * (retries + 1):
                cut = True
                timeout_s = min(timeout_s, remaining)
                retries = max(0, int(remaining // timeout_s) - 1)
                client = self.client.with_options(timeout=timeout_s, max_retries=retries)
        response_format = self._response_format(schema)
        kwargs: dict[str, Any] = dict(model=self.config.model, messages=messages, temperature=self.config.temperature, max_tokens=self.config.max_tokens)
        if response_format is not None:
            kwargs["response_format"] = response_format
        if self.config.seed is not None:
            # Reproducible first answers, but never the same answer twice: each retry (the messages grow by the
            # answer and the feedback) and each later sweep's retry of a failed slot (seed_offset) samples anew.
            kwargs["seed"] = self.config.seed + self.seed_offset + max(0, (len(messages) - 2) // 2)
        try:
            response = client.chat.completions.create(**kwargs)
        except openai.BadRequestError as error:
            if response_format is not None and "response_format" in str(error).lower():
                log.warning("%s does not support response_format %s; falling back to parse-and-repair", self.where, self.format)
                self.format = "none"
                return self.complete(messages, schema, deadline=deadline)
            raise DraftingError(f"drafting: {self.where} refused the request (400: {_detail(error)}); check drafting.model ({self.config.model!r})") from None
        except openai.AuthenticationError:
            raise DraftingError(f"drafting: {self.where} rejected the API key (401); set REELTWIN_DRAFTING__API_KEY in .env") from None
        except openai.PermissionDeniedError as error:
            raise DraftingError(f"drafting: {self.where} denied access (403: {_detail(error)}); check the key's permissions for model {self.config.model!r}") from None
        except openai.NotFoundError:
            raise DraftingError(f"drafting: model {self.config.model!r} not found at {self.where} (404); set drafting.model to one the server has") from None
        except openai.RateLimitError as error:
            raise DraftingError(f"drafting: {self.where} is rate limiting (429) after {self.config.max_retries} retries{_retry_after(error)}; try again later or raise drafting.max_retries") from None
        except openai.APITimeoutError:
            if cut:
                raise DraftingError(f"drafting: {self.where} did not answer within the {timeout_s:.0f} s left of drafting.max_seconds; "
                                    "raise drafting.max_seconds or use a faster model") from None
            raise DraftingError(f"drafting: {self.where} did not answer within {self.config.timeout_s:g} s ({self.config.max_retries} retries); raise drafting.timeout_s or check the server") from None
        except openai.APIConnectionError:
            raise DraftingError(f"drafting: cannot reach {self.where}; check drafting.base_url and that the server runs") from None
        except openai.InternalServerError as error:
            raise DraftingError(f"drafting: {self.where} failed ({error.status_code}) after {self.config.max_retries} retries; try again later") from None
        except openai.APIStatusError as error:
            raise DraftingError(f"drafting: {self.where} answered {error.status_code}: {_detail(error)}") from None
        except openai.APIResponseValidationError:
            raise DraftingError(f"drafting: {self.where} sent a response that is not an OpenAI chat completion; check drafting.base_url (it usually ends in /v1)") from None
        if not response.choices:
            raise DraftingError(f"drafting: {self.where} returned no choices; check drafting.model")
        message = response.choices[0].message
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise DraftingError(f"drafting: the model refused: {refusal.strip()[:200]}; rephrase the brief in the calendar")
        return message.content or ""


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict mode wants every property required and no extras."""
    strict = dict(schema)
    strict["additionalProperties"] = False
    strict["required"] = list(schema.get("properties", {}))
    return strict


def _detail(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body["error"] if isinstance(body.get("error"), dict) else body
        message = inner.get("message")
        if message:
            return str(message)[:200]
    return str(getattr(error, "message", error))[:200]


def _retry_after(error: Any) -> str:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    return f" (the server asks to wait {value} s)" if value else ""
