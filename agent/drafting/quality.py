"""What a reader notices in a draft, checked for any model (embedded or API).

The writer (:mod:`agent.drafting.writer`) repairs what is safe to repair and
asks :func:`review` what is still wrong. Each :class:`Finding` has a severity:

- ``HARD``: the answer cannot be offered (no script, words the creator avoids,
  a diet's forbidden foods, what the creator's feedback rejected); the model
  must try again and, if it never stops, the slot stays open with the reason.
- ``FAIL``: the answer is sent back with the reason (repetition, off brief,
  points or ``must_say`` missing, too short or long, a caption that is not one);
  if no better answer comes, the best attempt is kept and the finding becomes a
  warning the creator sees before reading.
- ``WARN``: shown to the creator, never a reason to ask again on its own
  (filler sentences).

Words are compared as whole normalized words: lower case, a light suffix
stemmer ("vegetables" ~ "vegetable", "saved" ~ "save"), number words as digits,
and a number kept with its unit ("2-week" and "two weeks" are the term
"2 week", which "weeks" alone does not match).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

from agent.drafting.base import DraftRequest


class Severity(IntEnum):
    """How much a finding counts against an attempt (see :func:`score`)."""

    WARN = 1
    FAIL = 10
    HARD = 100


@dataclass(frozen=True)
class Finding:
    rule: str            # repetition, off_brief, points, must_say, caption, short, long, filler, forbidden, avoided, echo, empty, body
    to_model: str        # the reason sent back to the model
    warning: str         # what the creator reads if the draft is kept anyway
    severity: Severity


def score(findings: list[Finding]) -> int:
    """Lower is better: a hard failure outweighs any number of failures, a failure ten warnings."""
    return sum(finding.severity for finding in findings)


# -- words ------------------------------------------------------------------------------------------

STOPWORDS = frozenset("""a an and are as at be but by can do does did for from had has have how i if in into is it its just me my no not of on
or our so than that the their them then there these they this those to too up us was we were what when where which who why will
with without you your yours about after again all also any because been before being both each few more most other over same
should some such only own very once here off out under until while stop stopped i'm im it's its you're youre don't dont can't cant
won't wont let's lets that's thats here's heres what's whats get got make made one ones really thing things way want need know
like go going come see look well even much many every day today now new good great best better""".split())

#: "one" is left out: "one kitchen skill", "one-pan" are rarely a quantity the script must repeat.
_NUMBER_WORDS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
                 "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30", "hundred": "100"}
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+(?:['’-][^\W\d_]+)*")
_NEGATORS = frozenset({"no", "without", "instead", "not", "never", "skip", "swap", "replace", "zero", "nor"})
#: A word right before a food that makes it plant-based ("oat milk", "peanut butter", "vegan cheese").
_PLANT_WORDS = ("oat", "soy", "almond", "coconut", "peanut", "cashew", "vegan", "plant", "veggie", "vegetable",
                                            "nut", "rice", "apple", "cocoa", "shea", "tofu", "seitan", "mushroom", "jackfruit", "fake", "mock")


def stem(word: str) -> str:
    """A light, consistent suffix stripper: both sides of a comparison go through it."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # stopped -> stop
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def tokens(text: str) -> list[str]:
    """Normalized tokens in order: numbers as digits, words stemmed, hyphens and apostrophes joined ("pre-cut" -> "precut")."""
    out = []
    for raw in _TOKEN.findall((text or "").lower().replace("’", "'")):
        if raw[0].isdigit():
            out.append(raw.replace(",", "."))
            continue
        word = raw.removesuffix("'s")
        if word in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[word])
        elif word in STOPWORDS:
            out.append(word.replace("'", ""))
        else:
            out.append(stem(re.sub(r"['-]", "", word)))
    return out


def _is_content(token: str) -> bool:
    return token not in STOPWORDS and not token.replace("'", "") in STOPWORDS and (token[0].isdigit() or len(token) >= 3)


def terms(text: str, *, skip_negated: bool = False) -> list[str]:
    """Content terms of ``text``, unique, in order; a number followed by a content word is one term ("2 week")."""
    found: list[str] = []
    toks = tokens(text)
    index = 0
    while index < len(toks):
        token = toks[index]
        if token[0].isdigit():
            nxt = toks[index + 1] if index + 1 < len(toks) else ""
            term = f"{token} {nxt}" if nxt and _is_content(nxt) and not nxt[0].isdigit() else token
            index += 2 if " " in term else 1
        elif _is_content(token):
            term = token
            index += 1
            if skip_negated and index >= 2 and toks[index - 2] in ("no", "without"):
                continue  # "a soup with no cream": the script need not say "cream"
        else:
            index += 1
            continue
        if term not in found:
            found.append(term)
    return found


def has_term(toks: list[str], term: str) -> bool:
    """``term`` in the token list; a number term needs its number with its unit within three words."""
    if " " in term:
        number, unit = term.split(" ", 1)
        return any(tok == number and unit in toks[i + 1 : i + 4] for i, tok in enumerate(toks))
    return term in toks


def _display(text: str) -> dict[str, str]:
    """term -> the words the creator wrote, for messages."""
    shown: dict[str, str] = {}
    raw = _TOKEN.findall(text or "")
    for index, word in enumerate(raw):
        pair = " ".join(raw[index : index + 2])
        found = terms(pair) if tokens(word)[:1] and tokens(word)[0][0].isdigit() else terms(word)
        for term in found[:1]:
            shown.setdefault(term, pair if " " in term else word)
    return shown


def normal(text: str) -> str:
    """Lower case, words only, single spaces: the form in which phrases are compared."""
    return " ".join(re.findall(r"[^\W_]+", (text or "").lower().replace("’", "'").replace("'", "")))


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split((text or "").strip()) if s.strip()]


# -- labels and echoed instructions -----------------------------------------------------------------

_LABEL = re.compile(
    r"(?:(?<=^)|(?<=[.!?\n]\s)|(?<=\n))\s*(?:"
    r"(?:reel|part|video|take|version|option)\s*#?\s*\d+\s*[:.)\-–—]"
    r"|(?:hook|script|caption|cta|call to action|title|on[- ]screen title|hashtags?|narrator|voice ?over|vo|speaker|creator|"
    r"intro|outro|body|ending|opening|closing)\s*(?:\(\s*\d+\s*words?\s*\))?\s*[:\-–—]"
    r")\s*",
    re.I,
)
_WORD_COUNT = re.compile(r"\s*[(\[]\s*(?:about |max(?:imum)? |at most |up to )?\d+\s*(?:-\s*\d+\s*)?(?:words?|characters?|chars?|seconds?|s)\s*[)\]]", re.I)

#: Our prompts' own phrases; a sentence that contains one was echoed, not written (regexes, lower case).
ECHO_PATTERNS = (
    r"\bthe call to action\b", r"\bcall to action\b", r"\bno more than \d+ words\b", r"\bat most \d+ words\b",
    r"\bbetween \d+ and \d+ words\b", r"\bone short opening sentence\b", r"\bopening sentence that makes\b", r"\bmakes viewers stay\b",
    r"\bspoken words only\b", r"\bno stage directions\b", r"\bevery word the creator says\b", r"\b1 to 3 short sentences\b",
    r"\ba list of hashtags\b", r"\breply with the corrected\b", r"\bjson object\b", r"\bon[- ]screen title\b", r"\bas spoken\b",
    r"\bwords to avoid\b", r"\bhashtags to choose from\b", r"\bpillar description\b", r"\bcover every point\b",
)
_ECHO = re.compile("|".join(ECHO_PATTERNS), re.I)
#: Tag texts that are our labels or instructions, not topics (compared lower case without '#').
_ECHO_TAGS = frozenset({"hook", "script", "caption", "cta", "title", "hashtag", "hashtags", "reel", "json", "calltoaction", "thecalltoaction",
                        "onscreentitle", "spokenwordsonly", "nostagedirections", "listofhashtags", "alistofhashtags", "hashtagstochoosefrom"})


def strip_labels(text: str) -> str:
    """Cut "Reel 1:", "Hook:", "Script:", "Caption:" and "(30 words)" wherever a line or sentence starts."""
    text = _WORD_COUNT.sub("", text or "")
    previous = None
    while previous != text:  # "Reel 1: Hook: ..." carries two labels
        previous, text = text, _LABEL.sub("", text)
    return text.strip()


def is_echo(text: str) -> bool:
    return bool(_ECHO.search(text or ""))


def drop_echoed_sentences(text: str) -> tuple[str, list[str]]:
    """``text`` without sentences that repeat our instructions, and those sentences."""
    kept, dropped = [], []
    for sentence in sentences(text):
        (dropped if is_echo(sentence) else kept).append(sentence)
    return " ".join(kept), dropped


# -- hashtags ---------------------------------------------------------------------------------------

_TAG = re.compile(r"^#[^\W]{2,30}$")


def is_real_tag(tag: str) -> bool:
    """``#`` + 2-30 letters, digits or underscores, not only digits, not one of our labels or instructions."""
    if not _TAG.match(tag):
        return False
    body = tag[1:].lower()
    if body.isdigit() or body in _ECHO_TAGS or is_echo(" ".join(re.findall(r"[a-z]+|\d+", body))):
        return False
    return not re.search(r"nomorethan|atmost\d|\d+words?$|calltoaction", body)


def hashtags(tags: object, allowed: list[str], limit: int, *, related: list[str], forbidden: list[str]) -> list[str]:
    """The calendar's set first (the model's picks from it, then the rest in the creator's order), then the model's own
    real tags that name something of the reel (a stem of ``related``, 4+ letters, inside the tag); deduplicated
    case-insensitively, none containing a forbidden word, at most ``limit`` (never over 30)."""
    limit = min(limit, 30)
    candidates = tags if isinstance(tags, list) else re.findall(r"#?\w+", str(tags or ""))
    cleaned: list[str] = []
    for tag in candidates:
        tag = "#" + re.sub(r"[^\w]", "", str(tag).strip().lstrip("#"))
        if is_real_tag(tag) and tag.lower() not in {t.lower() for t in cleaned}:
            cleaned.append(tag)
    by_lower = {tag.lower(): tag for tag in allowed}
    chosen = [by_lower[tag.lower()] for tag in cleaned if tag.lower() in by_lower]
    chosen += [tag for tag in allowed if tag not in chosen]
    stems = {term for term in related if len(term) >= 4 and not term[0].isdigit()}
    for tag in cleaned:
        body = tag[1:].lower()
        if tag.lower() in by_lower or tag.lower() in {t.lower() for t in chosen}:
            continue
        if stems and not any(term in body for term in stems):
            continue  # "#homework" on a soup reel
        chosen.append(tag)
    bad = [stem(word) for word in forbidden if " " not in word]

    def says(body: str, word: str) -> bool:  # a short word only at either end: "#codetips" is not cod
        return word in body if len(word) >= 5 else body.startswith(word) or body.endswith(word)

    return [tag for tag in chosen if not any(word and says(tag[1:].lower(), word) for word in bad)][:limit]


# -- call to action ---------------------------------------------------------------------------------

_CTA_LIKE = re.compile(
    r"\b(?:follow (?:me|us|for|along|my)|subscribe|hit (?:the |that )?(?:like|follow|bell)|smash (?:the|that)|like (?:and|&) (?:share|follow|subscribe|save)"
    r"|link in (?:my |the )?bio|save (?:this|it) for later|save this (?:reel|video|post|recipe)|share (?:this|it) with|tag (?:a|your) (?:friend|mate|someone)"
    r"|comment (?:below|down below|and)|let me know in the comments|drop a comment|(?:check|click) (?:out )?(?:the )?link|turn on (?:post )?notifications"
    r"|dm me|send me a dm)\b",
    re.I,
)


def is_cta_like(sentence: str) -> bool:
    return bool(_CTA_LIKE.search(sentence))


def end_with_cta(script: str, cta: str, model_cta: str = "") -> str:
    """``script`` closing with ``cta``, said once: the model's own call to action (its ``cta`` field, or any
    call-to-action sentence after the hook) is replaced, never said next to ours."""
    drop = {normal(cta), normal(model_cta)} - {""}
    kept = []
    for index, sentence in enumerate(sentences(script)):
        if normal(sentence) in drop or (index > 0 and is_cta_like(sentence)):
            continue  # the hook (sentence 0) stays even if it sounds like a call to action ("Save this before…")
        kept.append(sentence)
    body = " ".join(kept).strip()
    if body and body[-1] not in ".!?…":
        body += "."
    return f"{body} {end_sentence(cta)}".strip()


def end_sentence(text: str) -> str:
    text = (text or "").strip()
    return text if not text or text[-1] in ".!?…" else text + "."


def hook_first(script: str, hook: str) -> str:
    """The script opens with the hook: said first, and not again later."""
    if not normal(hook):
        return script
    parts = sentences(script)
    if parts and normal(hook) in normal(parts[0]):
        return script
    rest = [s for s in parts if normal(s) != normal(hook)]
    return " ".join([end_sentence(hook), *rest]).strip()


# -- persona constraints and the creator's feedback -------------------------------------------------

_MEAT = ("meat", "chicken", "beef", "pork", "bacon", "ham", "lamb", "mutton", "veal", "turkey", "duck", "goose", "sausage", "salami",
         "pepperoni", "prosciutto", "chorizo", "steak", "meatball", "gelatin", "gelatine", "lard", "venison", "rabbit", "brisket",
         "drumstick", "pancetta", "jerky")   # not "burger", "mince", "wings": veggie burgers and cauliflower wings are fine
_FISH = ("fish", "salmon", "tuna", "cod", "anchovy", "anchovies", "sardine", "mackerel", "trout", "shrimp", "prawn", "crab", "lobster",
         "oyster", "mussel", "clam", "scallop", "squid", "octopus", "calamari", "seafood", "haddock", "tilapia")
_ANIMAL = ("milk", "cheese", "butter", "cream", "yogurt", "yoghurt", "egg", "eggs", "honey", "ghee", "mayonnaise", "parmesan", "mozzarella", "whey")
_PORK = ("pork", "bacon", "ham", "lard", "prosciutto", "pepperoni", "pancetta", "chorizo", "salami", "gelatin", "gelatine")
_ALCOHOL = ("wine", "beer", "rum", "vodka", "whisky", "whiskey", "brandy", "liqueur", "sake", "gin")
_SHELLFISH = ("shrimp", "prawn", "crab", "lobster", "oyster", "mussel", "clam", "scallop", "squid", "octopus", "calamari")

#: What each diet (the persona's ``diet``, or the word in its niche, audience, tone or the creator's feedback) never
#: lets a script, caption, title or hashtag name, unless negated ("no chicken", "without meat", "meat-free").
DIET_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "vegetarian": _MEAT + _FISH,
    "vegan": _MEAT + _FISH + _ANIMAL,
    "pescatarian": _MEAT,
    "halal": _PORK + _ALCOHOL,
    "kosher": _PORK + _SHELLFISH,
}
_DIET_WORDS = {"vegetarian": "vegetarian", "veggie": "vegetarian", "vegan": "vegan", "plant-based": "vegan", "plant based": "vegan",
               "pescatarian": "pescatarian", "halal": "halal", "kosher": "kosher"}

_BAN = re.compile(
    r"\b(?:no|without|avoid|never mention|stop (?:mentioning|saying|using)|(?:don'?t|do not) (?:mention|use|say|include|talk about|show))\s+"
    r"(?:any\s+|the\s+|a\s+|an\s+|more\s+)?([^.;:!?\n]+)",
    re.I,
)
#: After "no", these open a phrase that bans nothing ("no need to…", "no longer", "no more than").
_NOT_A_BAN = frozenset({"need", "longer", "more", "less", "problem", "way", "one", "idea", "matter", "worries", "doubt", "thanks", "offense",
                        "offence", "than", "big", "real", "clear", "good", "point", "time", "reason"})
_END_OF_ITEM = frozenset({"please", "anymore", "again", "ever", "here", "this", "that", "at", "in", "on", "for", "because", "since"})


def feedback_bans(feedback: str | None) -> list[str]:
    """Words and short phrases the creator's feedback rejects: "no X", "without X", "avoid X", "don't mention X"
    (a list "no chicken, beef or pork" bans each; a long clause after "and" ends the list)."""
    found: list[str] = []
    for match in _BAN.finditer(feedback or ""):
        items = re.split(r"\s*,\s*|\s+(?:and|or|nor)\s+", match.group(1).strip())
        for position, item in enumerate(items):
            words, cut_by_stopword = [], False
            for word in re.findall(r"[^\W\d_][\w'-]*", item.lower()):
                if word in _END_OF_ITEM:
                    break
                if word in STOPWORDS:
                    cut_by_stopword = True
                    break
                words.append(word)
            if position > 0 and (len(words) > 2 or cut_by_stopword):
                break  # "no chicken and make the hook shorter": the list ended at "and"
            if not words or words[0] in _NOT_A_BAN:
                break
            phrase = " ".join(words[:3])
            if phrase not in found:
                found.append(phrase)
    return found


def diets(request: DraftRequest) -> list[str]:
    """The persona's diet, and one named in its niche, audience or tone, or in the creator's feedback."""
    found = []
    declared = str(request.persona.get("diet") or "").lower()
    if declared in DIET_FORBIDDEN:
        found.append(declared)
    text = " ".join(str(request.persona.get(key) or "") for key in ("niche", "audience", "tone")) + " " + (request.feedback or "")
    for word, diet in _DIET_WORDS.items():
        if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text.lower()) and diet not in found:
            found.append(diet)
    return found


def mentions(text: str, phrase: str) -> bool:
    """``phrase`` said in ``text`` as whole (stemmed) words and not negated ("no chicken", "chicken-free" do not count)."""
    toks, wanted = tokens(text), tokens(phrase)
    if not wanted:
        return False
    for index in range(len(toks) - len(wanted) + 1):
        if toks[index : index + len(wanted)] == wanted:
            before = toks[max(0, index - 3) : index]
            after = toks[index + len(wanted) : index + len(wanted) + 1]
            plant = bool(before) and before[-1] in {stem(word) for word in _PLANT_WORDS}
            if not (set(before) & _NEGATORS) and after != ["free"] and not plant:
                return True
    return False


# -- the review -------------------------------------------------------------------------------------

#: Sentences that say nothing in any reel (compared normalized). A sentence of at most five words with no content
#: word from the brief, its points or must_say (or the pillar, for an open slot) and no number is filler too.
FILLER = frozenset(normal(s) for s in (
    "This recipe is for you.", "This is for you.", "This video is for you.", "Just do it.", "You won't believe it.", "You won't believe this.",
    "Trust me.", "Believe me.", "You're welcome.", "Let's get started.", "Let's dive in.", "Let's go.", "Here we go.", "That's it.",
    "And that's it.", "It's that simple.", "It's that easy.", "You need this.", "So good.", "Game over.", "Thank me later.", "You got this.",
))


@dataclass
class Rules:
    """What a draft is checked against, worked out once per request."""

    brief_terms: list[str] = field(default_factory=list)
    brief_shown: dict[str, str] = field(default_factory=dict)
    points: list[str] = field(default_factory=list)
    must_say: list[str] = field(default_factory=list)
    vocabulary: set[str] = field(default_factory=set)
    forbidden: dict[str, str] = field(default_factory=dict)   # word or phrase -> why ("vegetarian", "your feedback")

    @classmethod
    def for_request(cls, request: DraftRequest) -> "Rules":
        rules = cls(points=list(request.points), must_say=list(request.must_say))
        if request.brief:
            rules.brief_terms = terms(request.brief, skip_negated=True)
            rules.brief_shown = _display(request.brief)
        for text in (request.brief, *request.points, *request.must_say) if request.brief or request.points else (request.pillar_description, *request.example_topics):
            rules.vocabulary.update(t for t in terms(text or "") if not t[0].isdigit())
        for diet in diets(request):
            for word in DIET_FORBIDDEN[diet]:
                rules.forbidden.setdefault(word, f"the persona is {diet}")
        for phrase in feedback_bans(request.feedback):
            rules.forbidden[phrase] = "the creator's feedback rejected it"
        return rules


def forbidden_in(text: str, rules: Rules) -> list[tuple[str, str]]:
    """(word, why) for each forbidden word or phrase ``text`` says."""
    return [(word, why) for word, why in rules.forbidden.items() if mentions(text, word)]


def review(script: str, caption: str, rules: Rules, request: DraftRequest) -> list[Finding]:
    """Repetition, filler, off-brief, points, must_say and caption findings for a repaired draft."""
    findings: list[Finding] = []
    parts = sentences(script)
    body = parts[1:-1] if request.call_to_action else parts[1:]  # the hook and our call to action are not filler
    counts = Counter(normal(s) for s in parts if normal(s))
    for sentence, times in counts.items():
        if times > 1:
            shown = next(s for s in parts if normal(s) == sentence)
            findings.append(Finding("repetition", f"script: repeats the sentence {shown!r} {times} times; say each thing once",
                                    f"repetition: {shown!r} said {times} times", Severity.FAIL))
    words = normal(script).split()
    grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    repeated_sentences = {s for s, times in counts.items() if times > 1}
    for gram, times in grams.items():
        phrase = " ".join(gram)
        if times > 1 and any(_is_content(t) for t in tokens(phrase)) and not any(phrase in s for s in repeated_sentences):
            findings.append(Finding("repetition", f"script: repeats the phrase {phrase!r}; say it once",
                                    f"repeated phrase: {phrase!r}", Severity.FAIL))
            break  # one phrase is reason enough; the rest overlap it
    seen_filler = set()
    for sentence in body:
        key = normal(sentence)
        toks = tokens(sentence)
        empty = len(key.split()) <= 5 and not any(t[0].isdigit() for t in toks) and not any(t in rules.vocabulary for t in toks)
        if (key in FILLER or (empty and rules.vocabulary)) and key not in seen_filler:
            seen_filler.add(key)
            findings.append(Finding("filler", f"script: {sentence!r} says nothing; say something about the topic instead",
                                    f"filler: {sentence!r}", Severity.WARN))
    script_tokens = tokens(script)
    if rules.brief_terms:
        missing = off_brief(script_tokens, rules.brief_terms)
        if missing:
            shown = ", ".join(rules.brief_shown.get(t, t) for t in missing)
            findings.append(Finding("off_brief", f"script: does not talk about the topic ({request.brief!r}): it never says {shown}; write about it",
                                    f"off brief: missing {shown}", Severity.FAIL))
    for point in rules.points:
        if not point_covered(script_tokens, point):
            findings.append(Finding("points", f"script: leaves out the point {point!r}; say it in your own words",
                                    f"point not covered: {point!r}", Severity.FAIL))
    for phrase in rules.must_say:
        if normal(phrase) not in normal(script):
            findings.append(Finding("must_say", f"script: must say {phrase!r} exactly, word for word",
                                    f"must_say missing: {phrase!r}", Severity.FAIL))
    findings.extend(caption_findings(caption, script, rules, request))
    return findings


def off_brief(script_tokens: list[str], brief_terms: list[str]) -> list[str]:
    """The brief's terms a text leaves out when it is off brief (a number of the brief, or more than 40 % of its other
    terms, is missing); empty when it is on brief."""
    numbers = [t for t in brief_terms if t[0].isdigit()]
    others = [t for t in brief_terms if not t[0].isdigit()]
    missing_numbers = [t for t in numbers if not has_term(script_tokens, t)]
    present = [t for t in others if has_term(script_tokens, t)]
    if missing_numbers or len(present) < math.ceil(0.6 * len(others)):
        return missing_numbers + [t for t in others if t not in present]
    return []


def point_covered(script_tokens: list[str], point: str) -> bool:
    """A point is covered when every number in it (with its unit) and more than half of its other content words are said."""
    wanted = terms(point)
    numbers = [t for t in wanted if t[0].isdigit()]
    others = [t for t in wanted if not t[0].isdigit()]
    if not all(has_term(script_tokens, t) for t in numbers):
        return False
    return sum(has_term(script_tokens, t) for t in others) >= (len(others) // 2 + 1 if others else 0)


def caption_findings(caption: str, script: str, rules: Rules, request: DraftRequest) -> list[Finding]:
    shown = caption if len(caption) <= 40 else caption[:37] + "…"
    if len(caption.strip()) < 20 or len(caption.split()) < 4 or not re.search(r"[^\W\d_]", caption):
        return [Finding("caption", f"caption: {shown!r} is not a caption; write 1 to 3 sentences about the reel",
                        f"caption {shown!r} was not usable; the hook is used instead", Severity.FAIL)]
    about = set(tokens(script)) | set(rules.brief_terms) | rules.vocabulary
    if not any(t in about for t in terms(caption) if not t[0].isdigit()):
        return [Finding("caption", f"caption: {shown!r} is not about the reel; write it about what the script says",
                        f"caption not about the reel: {shown!r}", Severity.FAIL)]
    return []
