"""Points-first drafting: a script assembled from the creator's own material, for a small model.

SmolLM2-135M cannot write a whole script that stays on a brief and carries the
creator's facts (``bench/results/drafts.md``: 5 % of points, 40 % off brief),
but it can phrase one sentence, and what it phrases can be checked word by word.
When a brief carries ``points`` the script is built in order:

1. a hook: the model writes one short line from the brief; it is kept when it is
   on brief, new (not one of the recent hooks) and adds no number; else a line
   made from the brief itself;
2. each point as one or two spoken sentences: the model phrases that single
   point; its sentence is kept only if it keeps the point's key words and every
   number, adds no number and little else; else the point itself, cleaned into a
   sentence. The model never adds a point;
3. each ``must_say`` phrase word for word (unless a point already says it);
4. light connective words ("First,", "Then", "And") where the points read as
   steps or a list;
5. the calendar's call to action last.

The caption and on-screen title are model-written and checked, with a fallback
made from the brief and the points; hashtags come from the calendar's set first.
Over the word budget the connectives go first, then the model's longer phrasings,
then a longer hook; a point is never cut (if the points alone are too long they
stay and a warning says so). The result goes through the writer's checks like
any other draft, and what is still wrong becomes the queue card's warnings.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from agent.approval.queue import word_count
from agent.drafting import quality
from agent.drafting.base import Draft, DraftingError, DraftRequest
from agent.drafting.writer import Complete, check, parse_json_object, spoken_only, spoken_text, write_draft

log = logging.getLogger(__name__)


class Method(StrEnum):
    """How a draft is written."""

    WHOLE = "whole"     # the model writes the whole script as one JSON answer, checked and sent back with the reasons
    POINTS = "points"   # a brief with points is assembled from them (this module); one without goes the whole way
    #: as POINTS; a brief without points first gets three short facts from the model, checked, as its points. Measured
    #: for bench/drafts.py and not used: as often off brief as the whole script, and the facts are made up
    FACTS = "facts"


#: What the embedded model uses, chosen by ``bench/drafts.py`` (see bench/results/drafts.md and the README).
EMBEDDED_METHOD = Method.POINTS


def method_for(*, embedded: bool) -> Method:
    """The embedded small model assembles from points; hosted models write the whole script."""
    return EMBEDDED_METHOD if embedded else Method.WHOLE


def write(request: DraftRequest, complete: Complete, *, method: Method, max_attempts: int = 3, model_name: str = "",
          max_seconds: float | None = None, clock: Callable[[], float] = time.monotonic) -> Draft:
    """Draft ``request`` the way ``method`` says (see :class:`Method`)."""
    if method is Method.WHOLE or not (request.points or (method is Method.FACTS and request.brief)):
        return write_draft(request, complete, max_attempts=max_attempts, model_name=model_name, max_seconds=max_seconds, clock=clock)
    return assemble_draft(request, complete, max_attempts=max_attempts, model_name=model_name, max_seconds=max_seconds, clock=clock)


# -- asking the model for one short thing -------------------------------------------------------------

class _Model:
    """Short questions to the model within the slot's time; after a failure or past the time every answer is None."""

    def __init__(self, complete: Complete, *, max_seconds: float | None, clock: Callable[[], float], started: float):
        self.complete = complete
        self.max_seconds = max_seconds
        self.clock = clock
        self.started = started
        self.asked = 0
        self.kept = 0
        self.stopped = ""

    def ask(self, system: str, examples: list[tuple[str, dict]], question: str, schema: dict[str, Any]) -> dict[str, Any]:
        if self.stopped:
            return {}
        if self.max_seconds is not None and self.clock() - self.started >= self.max_seconds:
            self.stopped = f"the time budget ran out (drafting.max_seconds = {self.max_seconds:g})"
            return {}
        messages = [{"role": "system", "content": system}]
        for example, answer in examples:   # a 135M model follows an example far better than a rule
            messages += [{"role": "user", "content": example}, {"role": "assistant", "content": json.dumps(answer)}]
        messages.append({"role": "user", "content": question})
        try:
            answer = self.complete(messages, schema)
        except DraftingError as error:
            self.stopped = f"the model stopped answering ({str(error)[:120]})"
            return {}
        try:
            return parse_json_object(answer)
        except ValueError:
            return {}


def _schema(**fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": fields, "required": list(fields)}


def _text(limit: int) -> dict[str, Any]:
    # maxLength becomes part of llama.cpp's grammar: a rambling answer is cut, never 700 tokens long
    return {"type": "string", "maxLength": limit}


HOOK_SCHEMA = _schema(hook=_text(120))
SENTENCE_SCHEMA = _schema(sentence=_text(220))
FACTS_SCHEMA = _schema(facts={"type": "array", "items": _text(100), "minItems": 3, "maxItems": 3})
CAPTION_SCHEMA = _schema(title=_text(50), caption=_text(240), hashtags={"type": "array", "items": _text(30), "maxItems": 4})

HOOK_SYSTEM = ("You write the first line of a short Instagram reel: one short spoken sentence about the topic that makes viewers stay. "
               "At most 12 words. No hashtags, no emoji, no numbers that are not in the topic. Reply with JSON.")
HOOK_EXAMPLES = [
    ("Topic: how to fold a fitted sheet", {"hook": "Folding a fitted sheet is easy once you know this."}),
    ("Topic: why I walk to work", {"hook": "Here is why I walk to work every single day."}),
]
POINT_SYSTEM = ("You help a creator say one note from their reel out loud. Rewrite the note as one short spoken sentence. "
                "Keep every number and every important word of the note. Add no new facts and no new numbers. Reply with JSON.")
POINT_EXAMPLES = [
    ("Topic: how to fold a fitted sheet\nNote: tuck the corners into each other", {"sentence": "Start by tucking the corners into each other."}),
    ("Topic: a cheap weekly lunch\nNote: costs 2 euros a portion", {"sentence": "Each portion costs just 2 euros."}),
]
CAPTION_SYSTEM = ("You write the on-screen title and the Instagram caption of a short reel. title: at most 6 words. "
                  "caption: one or two sentences that say what the reel is about. hashtags: up to 4. Reply with JSON.")
CAPTION_EXAMPLES = [
    ("Topic: how to fold a fitted sheet\nThe reel says: tuck the corners into each other; fold it into a rectangle",
     {"title": "Fold a fitted sheet", "caption": "Fitted sheets are not impossible: tuck the corners, then fold it flat.", "hashtags": ["#laundry", "#foldingtips"]}),
]
FACTS_SYSTEM = ("You list what a short Instagram reel says. Give three short, useful tips about the topic, each one sentence "
                "under 12 words. No numbers that are not in the topic. Reply with JSON.")
FACTS_EXAMPLES = [
    ("Topic: how to fold a fitted sheet",
     {"facts": ["Tuck the corners into each other first.", "Fold the sheet into a flat rectangle.", "Store the set inside its own pillowcase."]}),
]


# -- text -------------------------------------------------------------------------------------------

def as_sentence(text: str) -> str:
    """The creator's note as a spoken sentence: brackets become commas, links, emoji and list markers go, a capital
    first and a full stop last; the words stay the creator's."""
    text = re.sub(r"\s*\(([^)]*)\)", r", \1", text or "")      # "(and what it saved me)" -> ", and what it saved me"
    text = spoken_only(re.sub(r"^\s*(?:[-•*]|\d+[.)])\s+", "", text))
    text = re.sub(r"\s+,", ",", text).strip(" ,;:-–—")
    return quality.end_sentence(text[:1].upper() + text[1:]) if text else ""


def _numbers(text: str) -> set[str]:
    return {token for token in quality.tokens(text) if token[0].isdigit()}


def _content(text: str) -> list[str]:
    return [term for term in quality.terms(text) if not term[0].isdigit()]


def _repeats(text: str, others: list[str], share: float = 0.7) -> bool:
    """``text`` says the same as one of ``others``: equal, or sharing ``share`` of their content words."""
    mine = set(_content(text))
    for other in others:
        theirs = set(_content(other))
        if quality.normal(text) == quality.normal(other) or (mine and theirs and len(mine & theirs) / len(mine | theirs) >= share):
            return True
    return False


def _common_problem(text: str, request: DraftRequest, rules: quality.Rules) -> str | None:
    """What no line the model wrote may do: echo our instructions, sound like a call to action, use an avoided or forbidden word."""
    if quality.is_echo(text):
        return "repeats the instructions"
    if quality.is_cta_like(text):
        return "is a call to action"
    lowered = text.lower()
    avoided = [word for word in request.avoid_words if re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered)]
    if avoided:
        return f"uses {avoided[0]!r}"
    forbidden = quality.forbidden_in(text, rules)
    if forbidden:
        return f"mentions {forbidden[0][0]!r} ({forbidden[0][1]})"
    return None


def _added_numbers(text: str, allowed: str) -> list[str]:
    return sorted(_numbers(text) - _numbers(allowed))


def _material(request: DraftRequest) -> str:
    """What the creator wrote for this reel: the brief and its points."""
    return " ".join([request.brief or "", *request.points])


def _leaked(text: str, examples: list[tuple[str, dict]], request: DraftRequest) -> list[str]:
    """Words of our few-shot examples' topics in ``text`` that the creator's material does not have (a 135M model
    copies its examples: "Each portion costs …" for a point about onions)."""
    example_words = set(_content(" ".join(question for question, _ in examples)))
    return [term for term in _content(text) if term in example_words and term not in set(_content(_material(request)))]


#: Words a line may add to the creator's material: they connect or judge, they state no fact ("just", "easy").
CONNECTING_WORDS = "just simply really also only still even easy easier quick quicker simple cheap cheaper whole same each single next"
#: And a hook's: they promise, they state no fact ("the trick to …", "you are doing it wrong").
HOOK_WORDS = "trick secret mistake wrong fix reason truth nobody tell stop start never love try here why how"
_NEGATIONS = frozenset("not no never cannot cant dont doesnt didnt wont isnt arent nothing without".split())


def _new_words(text: str, known: str) -> list[str]:
    """Content words of ``text`` that neither ``known`` nor :data:`CONNECTING_WORDS` has."""
    have = set(_content(f"{known} {CONNECTING_WORDS}"))
    return [term for term in _content(text) if term not in have]


def _negates(text: str, known: str) -> bool:
    """``text`` says "not"/"never"/"can't" where ``known`` says none ("You can't stop touching your face"); "without
    cream" for "no cream" is the same thing said."""
    return bool(set(quality.normal(text).split()) & _NEGATIONS) and not set(quality.normal(known).split()) & _NEGATIONS


#: A first word a sentence can start with in lower case after "Then" or "And" (steps are imperatives).
_STEP_VERBS = frozenset("""add aim apply bake blend boil bring buy check chop cook cover cut do drink eat fill fold freeze fry go hang heat hold
keep leave let lift look mix move open pack pay pick plan pour prep press pull push put reapply rest rinse roast save scrub season serve set
skip sleep slice soak split spread stand start stir stop store stretch swap take trim try turn use wait walk warm wash write""".split())
_CONNECTED = frozenset("""first then next and also plus finally so but after afterwards once now lastly second third start begin last or""".split())


def _lowered_after_connective(sentence: str, point: str) -> str | None:
    """``sentence`` with a lower-case first letter for "Then …"/"And …"; None when its first word may be a name."""
    first = re.findall(r"[\w'’-]+", sentence)[:1]
    if not first:
        return None
    word = first[0]
    if word == "I" or word.startswith(("I'", "I’")) or (len(word) > 1 and word.isupper()) or any(ch.isupper() for ch in word[1:]):
        return sentence            # "And I …", "And UV …": keep the capital
    lower = word.lower()
    if lower in quality.STOPWORDS or lower in _STEP_VERBS or point[:1].islower() and point.split()[:1] == [lower]:
        return sentence[:1].lower() + sentence[1:]
    if word[:1].isdigit():
        return sentence
    return None


def connectives(sentences: list[str], points: list[str], language: str) -> list[str]:
    """A light word before each point's sentence, or "": when most points are steps (they start with a verb), "First,"
    before a first step, "Then" before a step that follows one and "Finally," before a last such step of three or more;
    else "And" before the last of three or more points. None in other languages or where a sentence starts with one."""
    words = [""] * len(sentences)
    if language != "en" or len(sentences) < 2:
        return words

    def first_word(text: str) -> str:
        return (re.findall(r"[\w'’]+", text)[:1] or [""])[0].lower()

    steps = sum(first_word(point) in _STEP_VERBS for point in points) * 2 > len(points)
    for index, (sentence, point) in enumerate(zip(sentences, points)):
        first = first_word(sentence)
        if first in _CONNECTED or _lowered_after_connective(sentence, point) is None:
            continue
        last = index == len(sentences) - 1
        if steps and first in _STEP_VERBS and index == 0:
            words[index] = "First,"
        elif steps and first in _STEP_VERBS and first_word(sentences[index - 1]) in _STEP_VERBS | {"start", "first", "begin"}:
            words[index] = "Finally," if last and len(sentences) >= 3 else "Then"
        elif not steps and last and len(sentences) >= 3:
            words[index] = "And"
    return words


def _join(connective: str, sentence: str, point: str) -> str:
    if not connective:
        return sentence
    return f"{connective} {_lowered_after_connective(sentence, point)}"


# -- the parts --------------------------------------------------------------------------------------

def brief_hooks(brief: str, language: str) -> list[str]:
    """Openings made from the brief itself, best first ("Here's why …", "Let's talk about keeping …", the brief as a line)."""
    line = as_sentence(brief)
    if not line:
        return []
    if language != "en" or line.endswith("?"):
        return [line]
    bare = line.rstrip(".!…")
    first = bare.split()[0].lower()
    lower = bare[:1].lower() + bare[1:] if first in quality.STOPWORDS or first.endswith("ing") or first in ("why", "how", "what", "when", "where", "which", "who") else bare
    hooks = []
    if first in ("why", "how", "what", "when", "where", "which", "who"):
        hooks.append(f"Here's {lower}.")
    elif first.endswith("ing") and len(first) > 5:
        hooks.append(f"Let's talk about {lower}.")
    hooks += [line, f"Today: {lower}."]
    return hooks


def hook_problem(hook: str, request: DraftRequest, rules: quality.Rules) -> str | None:
    """Why the model's hook cannot open this reel (None: it can)."""
    words = word_count(hook)
    if words < 3:
        return "too short"
    if words > 16:
        return "too long"
    if rules.brief_terms and quality.off_brief(quality.tokens(hook), rules.brief_terms):
        return "off brief"
    added = _added_numbers(hook, _material(request))
    if added:
        return f"adds the number {added[0]}"
    if _negates(hook, _material(request)):
        return "turns the brief around"
    added_words = _new_words(hook, f"{_material(request)} {HOOK_WORDS}")
    if added_words:   # "… is a classic favorite in Italian restaurants", "… with cash"
        return f"adds {', '.join(added_words)}"
    if _leaked(hook, HOOK_EXAMPLES, request):
        return f"copies the example ({', '.join(_leaked(hook, HOOK_EXAMPLES, request))})"
    if _repeats(hook, request.recent_hooks):
        return "repeats a recent hook"
    return _common_problem(hook, request, rules)


def phrasing_problem(sentence: str, point: str, request: DraftRequest, rules: quality.Rules) -> str | None:
    """Why the model's sentence cannot stand for ``point`` (None: it can): it must keep every number (with its unit)
    and every key word of the point, and add no number, no "not" and no word beyond the brief's and a few that only
    connect (:data:`CONNECTING_WORDS`)."""
    if not sentence:
        return "empty"
    if len(quality.sentences(sentence)) > 2 or word_count(sentence) > max(24, 2 * word_count(point) + 8):
        return "too long"
    said = quality.tokens(sentence)
    for term in quality.terms(point):
        if term[0].isdigit() and not quality.has_term(said, term):
            return f"drops the number {term.split()[0]}"
    added = _added_numbers(sentence, point)
    if added:
        return f"adds the number {added[0]}"
    missing = [term for term in _content(point) if not quality.has_term(said, term)]
    if missing:
        return f"drops {', '.join(missing)}"
    if _negates(sentence, point):
        return "turns the point around"
    new = _new_words(sentence, f"{point} {request.brief or ''}")
    if new:   # "A 30 percent tip for wants", "… by cutting them": a phrasing connects, it states nothing new
        return f"adds {', '.join(new)}"
    if _leaked(sentence, POINT_EXAMPLES, request):
        return f"copies the example ({', '.join(_leaked(sentence, POINT_EXAMPLES, request))})"
    return _common_problem(sentence, request, rules)



def title_problem(title: str, request: DraftRequest) -> str | None:
    """Why the model's title cannot go on screen (None: it can): 1 to 6 words naming the brief, nothing added."""
    if not title or word_count(title) > 6:
        return "not 1 to 6 words"
    if not set(_content(title)) & set(_content(request.brief or _material(request))):
        return "not about the brief"
    if _added_numbers(title, _material(request)) or len(_new_words(title, _material(request))) > 2:
        return "adds something"
    return None


def caption_problem(caption: str, script: str, request: DraftRequest, rules: quality.Rules) -> str | None:
    """Why the model's caption cannot go out (None: it can): a caption about the brief that adds no number and
    at most two words of its own, and turns nothing around."""
    if len(caption) > 300 or quality.caption_findings(caption, script, rules, request):
        return "not a caption about the reel"
    if request.brief and not set(_content(caption)) & set(_content(request.brief)):
        return "not about the brief"
    if _added_numbers(caption, _material(request)) or len(_new_words(caption, _material(request))) > 2 or _negates(caption, _material(request)):
        return "adds something"
    return _common_problem(caption, request, rules)


#: Words a cut title must not end on ("… for people who", "… more muscle than").
_DANGLING = frozenset("a an the and or but of to for with without in on at by from than that who which your my our their his her its "
                      "into about as is are so no not do cannot can will one two three four five six seven eight nine ten every more most".split())


def brief_title(brief: str) -> str:
    """At most 6 words of the brief, without a leading article or a dangling little word at the end."""
    words = as_sentence(brief).rstrip(".!?…").replace(",", "").split()
    if words and words[0].lower() in ("a", "an", "the") and len(words) > 1:
        words = words[1:]
    cut, words = len(words) > 6, words[:6]
    while cut and len(words) > 2 and words[-1].lower() in _DANGLING:
        words.pop()
    title = " ".join(words)
    return title[:1].upper() + title[1:]


def brief_caption(brief: str, points: list[str], language: str) -> str:
    """The brief and what the reel says: "A creamy tomato soup with no cream: blend in …, … and ready in 20 minutes."."""
    head = as_sentence(brief).rstrip(".!…")
    said = [as_sentence(point).rstrip(".!?…") for point in points]
    said = [_lowered_after_connective(s, point) or s for s, point in zip(said, points)]
    while len(said) > 1 and len(", ".join(said)) > 220:
        said.pop()
    if not said:
        return quality.end_sentence(head)
    joined = ", ".join(said[:-1]) + (" and " if language == "en" else ", ") + said[-1] if len(said) > 1 else said[0]
    return f"{head}: {joined}."


def tag_from_material(tag: str, request: DraftRequest) -> bool:
    """A model's hashtag made only of words the creator wrote ("#tomatosoup", "#pushup"), never "#walk15minute"."""
    body = tag.lstrip("#").lower()
    if not re.fullmatch(r"[a-z]{4,24}", body):
        return False
    words = set()
    for word in re.findall(r"[a-z]+", _material(request).lower()):
        words.update({word, word.removesuffix("s")} if len(word) > 2 else set())
    reachable = [True] + [False] * len(body)   # reachable[i]: body[:i] splits into the creator's words
    for end in range(1, len(body) + 1):
        reachable[end] = any(reachable[start] and body[start:end] in words for start in range(end))
    return reachable[-1]


@dataclass
class Part:
    """One piece of the script: what is said, the creator's own version of it (used to shorten) and where it came from."""

    kind: str            # hook | point | must_say | cta
    text: str
    plain: str
    from_model: bool = False
    connective: str = ""
    source: str = ""     # the point it says

    def said(self) -> str:
        return _join(self.connective, self.text, self.source) if self.kind == "point" else self.text


def script_of(parts: list[Part]) -> str:
    return " ".join(part.said() for part in parts if part.text)


def fit_budget(parts: list[Part], budget: int, hooks: list[str]) -> str | None:
    """Shorten ``parts`` in place to ``budget`` words: connectives first, then the model's longer phrasings (the
    creator's own point instead), then a shorter hook; never a point. A warning when the points alone do not fit."""
    def over() -> bool:
        return word_count(script_of(parts)) > budget

    for part in reversed(parts):
        if not over():
            return None
        part.connective = ""
    longer = sorted((p for p in parts if p.kind == "point" and p.from_model and word_count(p.plain) < word_count(p.text)),
                    key=lambda p: word_count(p.plain) - word_count(p.text))
    for part in longer:
        if not over():
            return None
        part.text, part.from_model = part.plain, False
    hook = next((p for p in parts if p.kind == "hook"), None)
    if hook is not None and over():
        shortest = min([hook.text, *hooks], key=word_count)
        if shortest != hook.text:
            hook.text, hook.from_model = shortest, False
    if over():
        return (f"with every point said the script needs {word_count(script_of(parts))} words, over the budget of {budget} "
                f"(reel_length_s): all points are kept; shorten them or raise reel_length_s")
    return None


def _ask_facts(model: _Model, request: DraftRequest, rules: quality.Rules) -> list[str]:
    """Up to three short facts about the brief from the model, each checked: on brief, new, no invented number."""
    answer = model.ask(FACTS_SYSTEM, FACTS_EXAMPLES, f"Topic: {request.brief}", FACTS_SCHEMA)
    facts = answer.get("facts") if isinstance(answer.get("facts"), list) else []
    brief_terms = set(_content(request.brief or ""))
    kept: list[str] = []
    for fact in facts:
        text = as_sentence(spoken_text(str(fact)))
        own = set(_content(text))
        if not 3 <= word_count(text) <= 20 or not own & brief_terms or not own - brief_terms:
            continue   # off brief, or only the brief again
        if _added_numbers(text, request.brief or "") or _repeats(text, kept, 0.6) or _common_problem(text, request, rules):
            continue
        kept.append(text)
    return kept


def assemble_draft(request: DraftRequest, complete: Complete, *, max_attempts: int = 3, model_name: str = "",
                   max_seconds: float | None = None, clock: Callable[[], float] = time.monotonic) -> Draft:
    """The script built from the brief's points (see the module's docstring); without points (``Method.FACTS``), from
    three checked facts the model lists, or the whole-script writer when fewer than two pass."""
    started = clock()
    model = _Model(complete, max_seconds=max_seconds, clock=clock, started=started)
    rules = quality.Rules.for_request(request)
    warnings: list[str] = []
    points, phrased = list(request.points), True
    if not points:
        points, phrased = _ask_facts(model, request, rules), False
        model.asked += 1
        if len(points) < 2:
            left = None if max_seconds is None else max(1.0, max_seconds - (clock() - started))
            return write_draft(request, complete, max_attempts=max_attempts, model_name=model_name, max_seconds=left, clock=clock)
        model.kept += 1
        warnings.append("no points in the brief: the facts in this script are the model's; check them before approving")
        request = replace(request, points=points)
        rules = quality.Rules.for_request(request)

    hooks = brief_hooks(request.brief or request.pillar or "", request.language)
    hooks = [hook for hook in hooks if not _repeats(hook, request.recent_hooks)] or hooks
    parts = [_hook(model, request, rules, hooks)]
    parts += _said_points(model, request, rules, points, phrased=phrased, said=[parts[0].text])
    for phrase in request.must_say:
        if quality.normal(phrase) not in quality.normal(script_of(parts)):
            parts.append(Part("must_say", as_sentence(phrase), as_sentence(phrase)))
    cta = quality.end_sentence(request.call_to_action.strip())
    if cta:
        parts.append(Part("cta", cta, cta))
    over = fit_budget(parts, request.word_budget, hooks)
    if over:
        warnings.insert(0, over)
    script = script_of(parts)
    title, caption, tags = _title_caption_tags(model, request, rules, script)

    checked = check({"hook": parts[0].text, "script": script, "on_screen_title": title, "caption": caption, "hashtags": tags, "cta": cta}, request)
    if checked.draft is None or checked.hard:
        raise DraftingError(f"the draft built from the brief's points cannot be offered: {'; '.join(checked.hard)}; "
                            "check the brief's points and must_say in the calendar")
    warnings = [*checked.warnings, *warnings]
    if model.stopped:
        warnings.append(f"{model.stopped}: the rest uses your points as written")
    return Draft(
        hook=checked.draft.hook, script=checked.draft.script, on_screen_title=checked.draft.on_screen_title,
        caption=checked.draft.caption, hashtags=list(checked.draft.hashtags), cta=checked.draft.cta,
        attempts=1, seconds=clock() - started, first_try_valid=not checked.problems, trimmed=False,
        warnings=warnings, model=model_name, model_written=(model.kept, model.asked),
    )


def _hook(model: _Model, request: DraftRequest, rules: quality.Rules, hooks: list[str]) -> Part:
    """The model's hook if :func:`hook_problem` finds nothing, else the first of ``hooks`` (made from the brief)."""
    question = f"Topic: {request.brief}"
    if request.feedback:
        question += f"\nThe creator's note on the last version: {request.feedback}"
    answer = model.ask(HOOK_SYSTEM, HOOK_EXAMPLES, question, HOOK_SCHEMA)
    model.asked += 1
    written = quality.sentences(spoken_text(str(answer.get("hook") or "")))[:1]
    hook = quality.end_sentence(written[0]) if written else ""
    fallback = hooks[0] if hooks else hook
    problem = hook_problem(hook, request, rules) if hook else "no answer"
    if problem is None:
        model.kept += 1
        return Part("hook", hook, fallback, from_model=True)
    log.info("hook %r not used: %s", hook, problem)
    return Part("hook", fallback, fallback)


def _said_points(model: _Model, request: DraftRequest, rules: quality.Rules, points: list[str], *, phrased: bool, said: list[str]) -> list[Part]:
    """Each point as a sentence, in order: the model's phrasing if :func:`phrasing_problem` finds nothing, else the
    point as written (``phrased=False``: the points are already the model's sentences); then the connectives."""
    parts: list[Part] = []
    for point in points:
        plain = as_sentence(point)
        if not phrased:
            parts.append(Part("point", plain, plain, from_model=True, source=point))
            continue
        answer = model.ask(POINT_SYSTEM, POINT_EXAMPLES, f"Topic: {request.brief}\nNote: {point}", SENTENCE_SCHEMA)
        model.asked += 1
        sentence = as_sentence(spoken_text(str(answer.get("sentence") or "")))
        problem = phrasing_problem(sentence, point, request, rules) if sentence else "no answer"
        if problem is None and _repeats(sentence, [*said, *(part.text for part in parts)], 0.9):
            problem = "says what is already said"
        if problem is None:
            model.kept += 1
            parts.append(Part("point", sentence, plain, from_model=True, source=point))
        else:
            log.info("phrasing %r of point %r not used: %s", sentence, point, problem)
            parts.append(Part("point", plain, plain, source=point))
    for part, word in zip(parts, connectives([part.text for part in parts], points, request.language)):
        part.connective = word
    return parts


def _title_caption_tags(model: _Model, request: DraftRequest, rules: quality.Rules, script: str) -> tuple[str, str, list[str]]:
    """The model's title, caption and hashtags where they pass their checks, else made from the brief and points."""
    reel_says = "; ".join(point.rstrip(".") for point in request.points)
    answer = model.ask(CAPTION_SYSTEM, CAPTION_EXAMPLES, f"Topic: {request.brief}\nThe reel says: {reel_says}", CAPTION_SCHEMA)
    model.asked += 2
    brief = request.brief or quality.sentences(script)[0]
    title = spoken_text(str(answer.get("title") or "")).rstrip(".")
    if title_problem(title, request) or _common_problem(title, request, rules):
        title = brief_title(brief)
    else:
        model.kept += 1
    caption = re.sub(r"\s{2,}", " ", quality.strip_labels(re.sub(r"(?<!\w)#\w+", "", str(answer.get("caption") or "")))).strip()
    if caption_problem(caption, script, request, rules):
        caption = brief_caption(brief, request.points, request.language)
    else:
        model.kept += 1
    tags = [str(tag) for tag in (answer.get("hashtags") if isinstance(answer.get("hashtags"), list) else []) if tag_from_material(str(tag), request)]
    if request.pillar:
        tags.append("#" + re.sub(r"\W", "", request.pillar))
    return title, caption, tags
