"""Speakable text: turn a script written for reading into the words a synthesizer should say.

``normalize`` spells out numbers, money, times, dates, units, abbreviations, links and
handles, and drops what is not spoken (emoji, stage directions, markdown).
``split_sentences`` cuts the result into chunks a synthesizer takes in one go, and
``speakable_words`` lists the words a listener hears (for alignment and captions).
``prepare`` does all three and returns a frozen ``Normalized``.

Choices a reader may want to know (the tests pin each of them):

- English is spelled by this module itself (American style: no "and" inside numbers,
  "one hundred five"), so it needs no extra package. Other languages go through
  ``num2words`` where it knows the language, with only the language-neutral rules:
  numbers (decimal comma where the language writes one: "2,5", "12.000"), money in
  num2words' currency words, "9:30" as two numbers, emoji, markdown, stage directions
  in brackets, links and handles read without English symbol words. "%", "°" and a
  currency sign num2words cannot name stay for the synthesizer to read. A language
  num2words does not know (or lacks) keeps its digits, with a logged warning.
- A 4-digit number from 1100 to 2099 without a thousands comma is a year
  ("1999" -> "nineteen ninety-nine", "2009" -> "two thousand nine") unless a unit,
  currency or count noun follows it ("2000 calories" -> "two thousand calories").
- 24-hour times become 12-hour times: "18:00" -> "six p m", "08:15" -> "eight fifteen a m";
  "00:00" and "24:00" are "midnight". "9:30" -> "nine thirty", "10:00" -> "ten o'clock".
- "a m" / "p m" are written as two letters so every synthesizer says the letters.
- "n/10" and "n/100" are ratings ("8/10" -> "eight out of ten"); "a/b" with a < b <= 16
  is a fraction ("3/4" -> "three quarters"); "24/7" -> "twenty-four seven"; anything
  else is "a over b". Slashed dates need a 4-digit year and read month first unless the
  first part is over 12.
- Parentheses that hold a stage direction ("(smiles)", "(long pause)": up to five words,
  one from a short list of performance words) are dropped; other parentheses are
  asides and become commas. Square brackets, angle-bracket tags and English
  ``*action*`` words are always dropped.
- "St." before a capitalized word is "Saint", otherwise "Street". "4K"/"8K" (one digit,
  capital K) stay the letter K; "10k"/"10K" are "ten thousand".
- Lines that are headings, list items or paragraphs end with a period if they had no
  punctuation, so a list is read as separate sentences; list markers are dropped.
- English output holds no digits at all: numbers too long to name are read digit by digit.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

logger = logging.getLogger(__name__)

__all__ = ["Normalized", "normalize", "prepare", "speakable_words", "split_sentences"]


@dataclass(frozen=True)
class Normalized:
    """A script made speakable: the original, the spoken text, its synthesis chunks and its words."""

    original: str
    spoken: str
    sentences: tuple[str, ...]
    words: tuple[str, ...]


def prepare(text: str, language: str = "en", max_chars: int = 280) -> Normalized:
    """Normalize ``text`` and split it into sentences of at most ``max_chars`` and into words."""
    spoken = normalize(text, language)
    return Normalized(
        original=text,
        spoken=spoken,
        sentences=tuple(split_sentences(spoken, max_chars)),
        words=tuple(speakable_words(spoken)),
    )


def normalize(text: str, language: str = "en") -> str:
    """Return ``text`` as speakable words in ``language`` (an ISO code such as "en", "de", "pt-BR")."""
    lang = _resolve_language(language)
    text = _clean_unicode(text)
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _drop_stage_directions(text, english=lang.english)
    text = _flatten_markdown(text)
    text = _drop_emoji(text)
    text = _EMAIL.sub(functools.partial(_say_email, english=lang.english), text)
    text = _URL.sub(functools.partial(_say_url, english=lang.english), text)
    text = _HANDLE.sub(functools.partial(_say_handle, english=lang.english), text)
    text = _HASHTAG.sub(_say_hashtag, text)
    if lang.english:
        text = _english_rules(text)
    else:
        text = _other_language_rules(text, lang)
    text = _say_or_drop_symbols(text, english=lang.english)
    return unicodedata.normalize("NFC", _tidy_punctuation(text, english=lang.english))   # num2words may write decomposed letters


# --- languages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Language:
    code: str               # as num2words names it ("de", "pt_BR"); "" where numbers stay digits
    english: bool
    decimal_comma: bool     # "2,5" is two and a half, "12.000" twelve thousand


# num2words' "year" reading differs from its cardinal in a way speakers use only for these.
_YEAR_STYLE_LANGUAGES = frozenset({"da", "de", "fi", "nl", "no"})
_DECIMAL_COMMA_LANGUAGES = frozenset(
    "az be ca cs da de es fi fr hu id is it kz lt lv nl no pl pt ro ru sk sl sr sv tr uk vi".split()
)


# num2words 0.5.x's Amharic converter loops forever on some numbers (1234567): never call it.
_UNUSABLE_CONVERTERS = frozenset({"am"})


@functools.cache
def _num2words_languages() -> frozenset[str]:
    try:
        from num2words import CONVERTER_CLASSES
    except ImportError:
        return frozenset()
    return frozenset(CONVERTER_CLASSES) - _UNUSABLE_CONVERTERS


def _resolve_language(language: str) -> _Language:
    raw = language.strip().replace("-", "_")
    base, _, region = raw.partition("_")
    base = base.lower()
    if base == "en":
        return _Language("en", english=True, decimal_comma=False)
    known = _num2words_languages()
    decimal_comma = base in _DECIMAL_COMMA_LANGUAGES
    if not known:
        logger.warning("num2words is not installed: numbers in %r text stay digits; install reeltwin[local]", language)
        return _Language("", english=False, decimal_comma=decimal_comma)
    for candidate in (f"{base}_{region.upper()}" if region else "", base):
        if candidate in known:
            return _Language(candidate, english=False, decimal_comma=decimal_comma)
    logger.warning("no number words for language %r: digits stay as they are; num2words knows %s", language, ", ".join(sorted(known)))
    return _Language("", english=False, decimal_comma=decimal_comma)


# --- English number words -----------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion")
_IRREGULAR_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def _digits_en(digits: str) -> str:
    return " ".join(_ONES[int(d)] for d in digits)


def _below_thousand_en(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        tens, ones = divmod(rest, 10)
        words.append(_ONES[rest] if rest < 20 else _TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(words)


def cardinal_en(n: int) -> str:
    """English words for an integer, American style: 105 -> "one hundred five"."""
    if n < 0:
        return f"minus {cardinal_en(-n)}"
    if n == 0:
        return "zero"
    if n >= 1000 ** len(_SCALES):
        return _digits_en(str(n))
    groups = []
    scale = 0
    while n:
        n, group = divmod(n, 1000)
        if group:
            groups.append(_below_thousand_en(group) + (f" {_SCALES[scale]}" if scale else ""))
        scale += 1
    return " ".join(reversed(groups))


def ordinal_en(n: int) -> str:
    """English ordinal words: 22 -> "twenty-second"."""
    words = cardinal_en(n)
    head, sep, last = max(words.rpartition(" "), words.rpartition("-"), key=lambda parts: len(parts[0]))
    if last in _IRREGULAR_ORDINALS:
        last = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year_en(n: int) -> str:
    """A year as people say it: 1999 "nineteen ninety-nine", 2000 "two thousand", 2009 "two thousand nine", 1905 "nineteen oh five"."""
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009:
        return cardinal_en(n)
    century, rest = divmod(n, 100)
    if rest == 0:
        return f"{cardinal_en(century)} hundred"
    return f"{cardinal_en(century)} {'oh ' + _ONES[rest] if rest < 10 else cardinal_en(rest)}"


def _decimal_en(whole: str, fraction: str) -> str:
    head = _integer_en(whole) if whole else ""
    return f"{head} point {_digits_en(fraction)}".strip()


def _integer_en(digits: str) -> str:
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits.startswith("0"):
        return _digits_en(digits)
    return cardinal_en(int(digits))


def _number_en(text: str) -> str:
    """A plain number ("12,000", "2.5", "-3") as cardinal or decimal words, never a year."""
    sign = "minus " if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    return sign + (_decimal_en(whole, fraction) if fraction else _integer_en(whole))


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def _fraction_en(numerator: int, denominator: int) -> str:
    if denominator == 2:
        name = "half" if numerator == 1 else "halves"
    elif denominator == 4:
        name = "quarter" if numerator == 1 else "quarters"
    else:
        name = ordinal_en(denominator) + ("" if numerator == 1 else "s")
    return f"{cardinal_en(numerator)} {name}"


# --- language-neutral clean-up before the rules ----------------------------------------------

_CHARACTER_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\t": " ",
    "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2028": "\n", "\u2029": "\n", "\r": "\n",
    "\u2116": "No.",
    "\u00bd": "1/2", "\u2153": "1/3", "\u2154": "2/3", "\u00bc": "1/4", "\u00be": "3/4",
    "\u2155": "1/5", "\u215b": "1/8", "\u215c": "3/8", "\u215d": "5/8", "\u215e": "7/8",
    "\u2103": "°C", "\u2109": "°F",
})
_VULGAR_FRACTIONS = "\u00bd\u2153\u2154\u00bc\u00be\u2155\u215b\u215c\u215d\u215e"


def _clean_unicode(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    text = re.sub(f"(?<=\\d)(?=[{_VULGAR_FRACTIONS}])", " ", text)   # "1½" is one and a half
    text = re.sub(r"(?<=\d)[\u00a0\u202f](?=\d{3}(?!\d))", "", text)   # "1 200" with a no-break space is one number
    text = text.translate(_CHARACTER_MAP)
    # Invisible format and control characters (zero-width joiners, BOM, soft hyphens) say nothing.
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cf", "Cc"))
    text = re.sub(r"(?m)^[ \t]*(?:[-*_][ \t]*){3,}$", "", text)   # a markdown rule, before "---" turns into a dash
    text = re.sub(r"(?<=\d)\s*[\u2013\u2014]\s*(?=[\d$€£¥₹])", "-", text)   # en/em dash between numbers: a range
    return re.sub(r"\s*(?:[\u2013\u2014\u2015]|--+)\s*", " - ", text)


# --- stage directions and markdown ----------------------------------------------------------

_MARKDOWN_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
_SQUARE_BRACKETS = re.compile(r"\[[^\[\]\n]*\]")
_TAG = re.compile(r"<\s*/?\s*[A-Za-z][^<>\n]{0,60}>")
_ASTERISK_ACTION = re.compile(r"(?<![*\w])\*(?![\s*])([^*\n]{1,60}?)(?<!\s)\*(?![*\w])")
_PARENTHESES = re.compile(r"\(([^()\n]*)\)")

_STAGE_WORDS = frozenset(
    """
    laugh laughs laughing laughter chuckle chuckles chuckling giggle giggles giggling smile smiles smiling
    smirk smirks grin grins grinning sigh sighs sighing pause pauses pausing beat breath breathes breathing
    inhale inhales exhale exhales gasp gasps cough coughs sniff sniffs yawn yawns whisper whispers whispering
    shrug shrugs nod nods nodding wink winks winking cheer cheers clap claps clapping applause music sfx
    b-roll broll voiceover silence sarcastically dramatically excitedly softly quietly cries crying sob sobs
    groan groans gulp gulps sips tastes bites chews camera transition zoom
    """.split()
)
_STAGE_PHRASES = ("cut to", "on screen", "text on screen", "clears throat", "points at", "points to", "looks at", "holds up", "turns to", "off camera")


def _is_stage_direction(content: str) -> bool:
    """ "smiles", "laughs softly", "long pause", "points at camera"; not an aside such as "we beat the record"."""
    lowered = content.strip().lower()
    words = re.findall(r"[a-z][a-z'-]*", lowered)
    if not words or len(words) > 5 or re.search(r"\d", lowered):
        return False
    if words[0] in _STAGE_WORDS or lowered.startswith(_STAGE_PHRASES):
        return True
    # "long pause", "dramatically sighs": a short description or an adverb before the action
    return (len(words) <= 2 or words[0].endswith("ly")) and any(word in _STAGE_WORDS for word in words[1:3])


def _drop_stage_directions(text: str, *, english: bool) -> str:
    text = _SQUARE_BRACKETS.sub(" ", text)
    text = _TAG.sub(" ", text)
    if english:
        text = _ASTERISK_ACTION.sub(lambda m: " " if _is_stage_direction(m[1]) else m[0], text)

    def parenthesis(match: re.Match[str]) -> str:
        if english and _is_stage_direction(match[1]):
            return " "
        return f", {match[1]}, "   # an aside: keep the words, pause around them

    return _PARENTHESES.sub(parenthesis, text)


_HEADING = re.compile(r"^#{1,6}\s+")
_BULLET = re.compile(r"^[-*+•]\s+")
_NUMBERED_ITEM = re.compile(r"^\d{1,2}[.)]\s+(?=\D)")
_QUOTE_MARKER = re.compile(r"^(?:>\s?)+")
_INLINE_MARKDOWN = (
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)"), r"\1"),
)
_BLOCK_END = ".!?…:;,"


def _flatten_markdown(text: str) -> str:
    """Join lines into one line; headings, list items and paragraphs become sentences."""
    blocks: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(" ".join(paragraph))
            paragraph.clear()

    for raw in text.split("\n"):
        line = _QUOTE_MARKER.sub("", raw.strip()).strip()
        if not line:
            flush()
            continue
        structural = False
        for marker in (_HEADING, _BULLET, _NUMBERED_ITEM):
            stripped = marker.sub("", line, count=1)
            if stripped != line:
                structural, line = True, stripped.strip()
                break
        if structural:
            flush()
            blocks.append(line)
        else:
            paragraph.append(line)
    flush()
    ended = [
        block + "." if index < len(blocks) - 1 and block.rstrip("\"')]*_ ")[-1:] not in _BLOCK_END else block
        for index, block in enumerate(blocks)
    ]
    text = " ".join(ended)
    for pattern, replacement in _INLINE_MARKDOWN:
        text = pattern.sub(replacement, text)
    return text


# --- emoji ---------------------------------------------------------------------------------

_EMOTICON = re.compile(r"(?<![\w<])(?:<3+|[:;]-?[()DPp](?![\w)]))")
_ARROWS = re.compile("[\u2190-\u21ff\u27f0-\u27ff\u2900-\u297f\u2b00-\u2b2f]")
_KEEP_SYMBOLS = frozenset("°")


def _drop_emoji(text: str) -> str:
    text = _EMOTICON.sub(" ", text)
    text = _ARROWS.sub(", ", text)
    kept = []
    for ch in text:
        if ch in _KEEP_SYMBOLS:
            kept.append(ch)
            continue
        category = unicodedata.category(ch)
        if category in ("So", "Cs", "Co", "Me") or ch in "\ufe0e\ufe0f" or "\U0001f3fb" <= ch <= "\U0001f3ff":
            kept.append(" ")
        else:
            kept.append(ch)
    return "".join(kept)


# --- links, e-mail addresses, handles, hashtags --------------------------------------------

# Top-level domains read as a link without "https://" or "www."; words such as "so", "to", "in", "it", "me"
# are left out, so "great.so I went" (a missing space) is not taken for a link.
_TLDS = (
    "com|org|net|io|app|co|dev|ai|tv|ly|gg|xyz|shop|store|link|site|online|info|biz|edu|gov|"
    "uk|ca|de|fr|es|nl|au|eu|ch|se|dk|fi|pl|pt|br|mx|jp|blog|fm|cc|"
    "studio|club|tech|cloud|academy|design|bio|fit|fitness|kitchen|recipes|ws|sh|gl"
)
_URL_CHARACTERS = r"[\w/.~%?#=&+:@-]"
_URL = re.compile(
    rf"(?:\b(?:https?|ftp)://|\bwww\.){_URL_CHARACTERS}+"
    rf"|(?<![\w@.])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?i:{_TLDS})(?!\w|-\w)(?:/{_URL_CHARACTERS}*)?"
)
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w|-\w)")
_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?)")
_HASHTAG = re.compile(r"(?<![\w&#])#([^\W_]\w*)")
_TRAILING_PUNCTUATION = re.compile(r"[.,;:!?)\]}'\"]+$")
_SYMBOL_WORDS_EN = {".": " dot ", "/": " slash ", "-": " dash ", "_": " underscore ", "+": " plus ", ":": " colon ", "@": " at "}


def _read_symbols(text: str, english: bool) -> str:
    if english:
        return re.sub(r"[./_+:@-]", lambda m: _SYMBOL_WORDS_EN[m[0]], text)
    return re.sub(r"[./_+:@-]", " ", text)


def _say_url(match: re.Match[str], *, english: bool) -> str:
    url = match[0]
    tail = _TRAILING_PUNCTUATION.search(url)
    tail_text = tail[0] if tail else ""
    url = url[: len(url) - len(tail_text)] if tail_text else url
    url = re.sub(r"^(?:(?:https?|ftp)://)?(?:www\.)?", "", url, flags=re.IGNORECASE)
    url = re.split(r"[?#]", url, maxsplit=1)[0].rstrip("/")     # query strings and fragments are not read out
    url = re.sub(r"[^\w./:@+-]", " ", url)
    return f" {_read_symbols(url, english)} {tail_text}"


def _say_email(match: re.Match[str], *, english: bool) -> str:
    local, _, domain = match[0].partition("@")
    return f" {_read_symbols(local, english)}{' at ' if english else ' '}{_read_symbols(domain, english)} "


def _say_handle(match: re.Match[str], *, english: bool) -> str:
    return (" at " if english else " ") + _read_symbols(match[1], english) + " "


def _split_camel_case(word: str) -> list[str]:
    """ "MealPrep" -> ["Meal", "Prep"], "NYCFood" -> ["NYC", "Food"], "30DayChallenge" -> ["30", "Day", "Challenge"]."""
    parts: list[str] = []
    current = ""
    for index, ch in enumerate(word):
        previous = word[index - 1] if index else ""
        following = word[index + 1] if index + 1 < len(word) else ""
        boundary = current and (
            (previous.islower() and ch.isupper())
            or (previous.isalpha() and ch.isdigit())
            or (previous.isdigit() and ch.isalpha())
            or (previous.isupper() and ch.isupper() and following.islower())
        )
        if boundary:
            parts.append(current)
            current = ""
        current += ch
    return parts + [current] if current else parts


def _say_hashtag(match: re.Match[str]) -> str:
    body = match[1]
    if not any(ch.isalpha() for ch in body):
        return match[0]   # "#1" is "number one", not a hashtag
    words = []
    for chunk in body.split("_"):
        for part in _split_camel_case(chunk):
            words.append(part if part.isupper() and len(part) > 1 else part.lower())
    return " " + " ".join(words) + " "


# --- English rules ---------------------------------------------------------------------------


def _english_rules(text: str) -> str:
    text = re.sub(r"(?<=[^\W\d_]{2})\.(?=\d)", ". ", text)   # "steps.10k": a missing space, not a decimal
    for rule in (
        _expand_abbreviations,
        _say_dates,
        _say_times,
        _say_money,
        _say_percentages,
        _say_decades,
        _say_ordinals,
        _say_multipliers,
        _expand_units,
        _say_fractions_and_ratios,
        _say_digit_groups_and_ranges,
        _say_numbers_en,
        _expand_units_after_words,
    ):
        text = rule(text)
    return text


def _at_sentence_end(match: re.Match[str]) -> bool:
    """True where an abbreviation's period also ends the sentence (end of text or a capital follows)."""
    rest = match.string[match.end():]
    return not rest.strip() or re.match(r"\s+[\"']?[A-Z]", rest) is not None


def _abbreviation(pattern: str, words: str, *, flags: int = 0, may_end_sentence: bool = True) -> tuple[re.Pattern[str], Callable[[re.Match[str]], str]]:
    def replace(match: re.Match[str]) -> str:
        if may_end_sentence and match[0].endswith(".") and _at_sentence_end(match):
            return words + "."
        return words

    return re.compile(pattern, flags), replace


def _street_or_saint(match: re.Match[str]) -> str:
    if re.match(r"\s+[A-Z][a-z]", match.string[match.end():]):
        return "Saint"
    return "Street." if match[0].endswith(".") and _at_sentence_end(match) else "Street"


# Abbreviations may follow a digit ("2009Dr.") but not a letter.
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
_ABBREVIATIONS = (
    _abbreviation(_NOT_AFTER_LETTER + r"e\.\s?g\.", "for example", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"i\.\s?e\.", "that is", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"a\.k\.a\.|" + _NOT_AFTER_LETTER + r"aka\b", "also known as", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"vs\b\.?", "versus", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"etc\b\.?", "et cetera", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"approx\b\.?", "approximately", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"btw\b", "by the way", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"imo\b", "in my opinion", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"tbh\b", "to be honest", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"pl[sz]\b", "please", flags=re.IGNORECASE),
    _abbreviation(_NOT_AFTER_LETTER + r"Dr\.|" + _NOT_AFTER_LETTER + r"Dr\b(?=\s+[A-Z])", "Doctor", may_end_sentence=False),
    _abbreviation(_NOT_AFTER_LETTER + r"Mrs\.|" + _NOT_AFTER_LETTER + r"Mrs\b(?=\s+[A-Z])", "Missus", may_end_sentence=False),
    _abbreviation(_NOT_AFTER_LETTER + r"Mr\.|" + _NOT_AFTER_LETTER + r"Mr\b(?=\s+[A-Z])", "Mister", may_end_sentence=False),
    _abbreviation(_NOT_AFTER_LETTER + r"Ms\.|" + _NOT_AFTER_LETTER + r"Ms\b(?=\s+[A-Z])", "Miz", may_end_sentence=False),
    _abbreviation(_NOT_AFTER_LETTER + r"Prof\.", "Professor", may_end_sentence=False),
    _abbreviation(_NOT_AFTER_LETTER + r"Mt\.", "Mount", may_end_sentence=False),
    _abbreviation(_NOT_AFTER_LETTER + r"Jr\.", "Junior"),
    _abbreviation(_NOT_AFTER_LETTER + r"Sr\.", "Senior"),
    (re.compile(_NOT_AFTER_LETTER + r"St\.|" + _NOT_AFTER_LETTER + r"St\b(?=\s+[A-Z])"), _street_or_saint),
    _abbreviation(_NOT_AFTER_LETTER + r"no\.\s?(?=\d)", "number ", flags=re.IGNORECASE, may_end_sentence=False),
    _abbreviation(r"#\s?(?=\d)", " number ", may_end_sentence=False),
    _abbreviation(r"(?<!\w)~\s?(?=\d)", "about ", may_end_sentence=False),
    _abbreviation(r"\s*&\s*", " and ", may_end_sentence=False),
    _abbreviation(r"(?<!\w)w/o(?!\w)", "without", flags=re.IGNORECASE),
    _abbreviation(r"(?<!\w)w/e(?!\w)", "whatever", flags=re.IGNORECASE),
    _abbreviation(r"(?<!\w)y/o(?!\w)", "year old", flags=re.IGNORECASE),
    _abbreviation(r"(?<!\w)w/\s?(?=\S)", "with ", flags=re.IGNORECASE, may_end_sentence=False),
    _abbreviation(r"(?<!\w)b/c(?!\w)", "because", flags=re.IGNORECASE),
)


def _expand_abbreviations(text: str) -> str:
    for pattern, replace in _ABBREVIATIONS:
        text = pattern.sub(replace, text)
    return text


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
_MONTH_BY_NAME = {name: index for index, name in enumerate(_MONTHS, start=1)} | {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Sept": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}
_MONTH_NAME = "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True))
_ISO_DATE = re.compile(r"(?<![\w.-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")
_SLASHED_DATE = re.compile(r"(?<![\w./])(\d{1,2})/(\d{1,2})/(\d{4})(?![\w/])")
_MONTH_DAY = re.compile(rf"\b({_MONTH_NAME})\b\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?![\w:]|[.,]\d)")
_DAY_MONTH = re.compile(rf"(?<![\w.,:/])(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAME})\b\.?")


def _year_or_number_en(year: int) -> str:
    return year_en(year) if 1100 <= year <= 2099 else cardinal_en(year)


def _date_en(year: int, month: int, day: int) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{_MONTHS[month - 1]} {ordinal_en(day)}, {_year_or_number_en(year)}"


def _say_dates(text: str) -> str:
    def iso(match: re.Match[str]) -> str:
        return _date_en(int(match[1]), int(match[2]), int(match[3])) or match[0]

    def slashed(match: re.Match[str]) -> str:
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        month, day = (second, first) if first > 12 else (first, second)   # US order unless it cannot be
        return _date_en(year, month, day) or match[0]

    def month_day(match: re.Match[str]) -> str:
        day = int(match[2])
        month = _MONTHS[_MONTH_BY_NAME[match[1]] - 1]
        return f"{month} {ordinal_en(day)}" if 1 <= day <= 31 else match[0]

    def day_month(match: re.Match[str]) -> str:
        day = int(match[1])
        if not 1 <= day <= 31:
            return match[0]
        month = _MONTHS[_MONTH_BY_NAME[match[2]] - 1]
        before = match.string[: match.start()]
        article = "" if re.search(r"\bthe\s*$", before, re.IGNORECASE) else "the "
        return f"{article}{ordinal_en(day)} of {month}"

    text = _ISO_DATE.sub(iso, text)
    text = _SLASHED_DATE.sub(slashed, text)
    text = _MONTH_DAY.sub(month_day, text)
    return _DAY_MONTH.sub(day_month, text)


_MERIDIEM = r"(?:([ap])\.?\s?m\b\.?)"
_CLOCK = rf"(\d{{1,2}})(?::([0-5]\d))?\s*{_MERIDIEM}?"
_TIME = re.compile(rf"(?<![\w:.,])(?:{_CLOCK}\s*-\s*)?{_CLOCK}(?![\w:]|\.\d)", re.IGNORECASE)
_DURATION = re.compile(r"(?<![\w:.,])(\d{1,2}):([0-5]\d):([0-5]\d)(?![\w:]|\.\d)")
_ASPECT_WORDS = r"\s*(?:aspect|ratio|format|video|vertical|horizontal|screen|crop|frame)"


def _is_24_hour(hour_text: str, minute_text: str | None) -> bool:
    return minute_text is not None and (hour_text.startswith("0") or not 1 <= int(hour_text) <= 12)


def _clock_en(hour_text: str, minute_text: str | None, meridiem: str | None, *, twenty_four_hour: bool = False) -> str | None:
    """Words for one clock time, or None where these digits are not a time."""
    hour = int(hour_text)
    minute = int(minute_text) if minute_text else 0
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        suffix = f" {meridiem.lower()} m"
    elif minute_text is None:
        return None
    elif twenty_four_hour or _is_24_hour(hour_text, minute_text):
        if hour > 24 or (hour == 24 and minute):
            return None
        if hour in (0, 24) and minute == 0:
            return "midnight"
        suffix = " a m" if hour % 24 < 12 else " p m"
        hour = hour % 12 or 12
    else:
        suffix = ""
    if minute == 0:
        spoken_minutes = "" if suffix else " o'clock"
    elif minute < 10:
        spoken_minutes = f" oh {_ONES[minute]}"
    else:
        spoken_minutes = f" {cardinal_en(minute)}"
    return f"{cardinal_en(hour)}{spoken_minutes}{suffix}"


def _say_times(text: str) -> str:
    def duration(match: re.Match[str]) -> str:
        amounts = zip((int(match[1]), int(match[2]), int(match[3])), ("hour", "minute", "second"), strict=True)
        spoken = [f"{cardinal_en(n)} {unit if n == 1 else unit + 's'}" for n, unit in amounts if n]
        return " ".join(spoken) or "zero seconds"

    def time(match: re.Match[str]) -> str:
        start_hour, start_minute, start_meridiem, hour, minute, meridiem = match.groups()
        if re.match(_ASPECT_WORDS, match.string[match.end():], re.IGNORECASE) and not meridiem:
            return match[0]   # "9:16 video" is an aspect ratio
        end = _clock_en(hour, minute, meridiem, twenty_four_hour=start_hour is not None and not meridiem and not start_meridiem
                        and minute is not None and _is_24_hour(start_hour, start_minute))
        if end is None:
            return match[0]
        keep_period = match[0].endswith(".") and _at_sentence_end(match)
        if start_hour is None:
            return end + ("." if keep_period else "")
        # "9-5pm", "9:00 - 17:00": the start borrows the end's a m / p m when it has none.
        start = _clock_en(start_hour, start_minute, start_meridiem or (meridiem if not start_minute or meridiem else None),
                          twenty_four_hour=not meridiem and _is_24_hour(hour, minute))
        if start is None and start_minute is None:
            start = cardinal_en(int(start_hour))
        if start is None:
            return match[0]
        if meridiem and not start_meridiem and start.endswith(f" {meridiem.lower()} m"):
            start = start[: -len(" a m")]
        return f"{start} to {end}" + ("." if keep_period else "")

    text = _DURATION.sub(duration, text)
    return _TIME.sub(time, text)


_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "USD": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "JPY": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "INR": ("rupee", "rupees", "paisa", "paise"),
}
_MAGNITUDES = {"k": "thousand", "K": "thousand", "thousand": "thousand", "M": "million", "mn": "million", "million": "million",
               "B": "billion", "bn": "billion", "billion": "billion", "trillion": "trillion"}
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_MAGNITUDE = r"\s?(thousand|million|billion|trillion|mn|bn|[kKMB])(?![^\W_])"
_SYMBOL = r"[$€£¥₹]"
_CODE = r"(?:USD|EUR|GBP|JPY|INR)"
_MONEY_BEFORE = re.compile(
    rf"(?<![\w$€£¥₹])(-)?({_SYMBOL}|{_CODE}\s?)\s?({_AMOUNT})(?:{_MAGNITUDE})?"
    rf"(?:\s*-\s*(?:{_SYMBOL}|{_CODE}\s?)?\s?({_AMOUNT})(?:{_MAGNITUDE})?)?(?!\d|\.\d)"
)
_MONEY_AFTER = re.compile(
    rf"(?<![\w.,])(-)?({_AMOUNT})(?:{_MAGNITUDE})?(?:\s*-\s*({_AMOUNT})(?:{_MAGNITUDE})?)?\s?({_SYMBOL}|\b{_CODE}\b)"
)


def _money_en(amount: str, magnitude: str | None, currency: str, *, with_unit: bool = True) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[currency]
    whole, _, fraction = amount.replace(",", "").partition(".")
    whole = whole or "0"                                   # "$.99"
    if magnitude:
        return f"{_number_en(amount)} {_MAGNITUDES[magnitude]}" + (f" {many}" if with_unit else "")
    if fraction.strip("0") == "":
        count = int(whole)
        return _integer_en(whole) + (f" {one if count == 1 else many}" if with_unit else "")
    if len(fraction) == 2 and sub_one:
        count, cents = int(whole), int(fraction)
        cents_words = f"{cardinal_en(cents)} {sub_one if cents == 1 else sub_many}"
        if count == 0:
            return cents_words
        return f"{_integer_en(whole)} {one if count == 1 else many} and {cents_words}"
    return _number_en(amount) + (f" {many}" if with_unit else "")


def _money_range_en(sign: str | None, first: str, first_magnitude: str | None, second: str | None,
                    second_magnitude: str | None, currency: str) -> str:
    minus = "minus " if sign else ""
    if second is None:
        return minus + _money_en(first, first_magnitude, currency)
    plain = "." not in first and "." not in second
    if plain and (first_magnitude is None or first_magnitude == second_magnitude):
        # "$5-10" and "$5k-10k": one unit at the end, as people say it.
        return f"{minus}{_money_en(first, None, currency, with_unit=False)} to {_money_en(second, second_magnitude, currency)}"
    return f"{minus}{_money_en(first, first_magnitude or second_magnitude, currency)} to {_money_en(second, second_magnitude, currency)}"


def _say_money(text: str) -> str:
    def before(match: re.Match[str]) -> str:
        sign, currency, first, first_magnitude, second, second_magnitude = match.groups()
        return f" {_money_range_en(sign, first, first_magnitude, second, second_magnitude, currency.strip())} "

    def after(match: re.Match[str]) -> str:
        sign, first, first_magnitude, second, second_magnitude, currency = match.groups()
        return f" {_money_range_en(sign, first, first_magnitude, second, second_magnitude, currency)} "

    text = _MONEY_BEFORE.sub(before, text)
    return _MONEY_AFTER.sub(after, text)


def _say_percentages(text: str) -> str:
    text = re.sub(r"(\d)\s?%\s*-\s*(?=-?\d)", r"\1-", text)     # "10%-15%" is one range
    return re.sub(r"(\d)\s?%", r"\1 percent ", text)


def _say_decades(text: str) -> str:
    def decade(match: re.Match[str]) -> str:
        digits = match[1]
        number = int(digits)
        if len(digits) == 2 and number % 10 == 0 and number >= 10:
            return _plural(cardinal_en(number))
        if digits in ("100", "1000"):
            return _plural(_SCALES[1] if digits == "1000" else "hundred")
        if len(digits) == 4 and number % 10 == 0 and 1100 <= number <= 2099:
            return _plural(year_en(number))
        return match[0]

    return re.sub(r"(?<![\w'.,])'?(\d{2,4})'?s(?!\w)", decade, text)


def _say_ordinals(text: str) -> str:
    return re.sub(
        r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)(?!\w)",
        lambda m: ordinal_en(int(m[1].replace(",", ""))),
        text,
        flags=re.IGNORECASE,
    )


def _say_multipliers(text: str) -> str:
    number = r"\d+(?:\.\d+)?"
    text = re.sub(rf"(?<![\w.])({number})\s?[x×]\s?({number})(?![\w.]|\.\d)", lambda m: f"{_number_en(m[1])} by {_number_en(m[2])}", text)
    text = re.sub(rf"(?<![\w.])({number})\s?[x×](?![^\W_])", r"\1 times", text)
    return re.sub(r"(?<![\w.])[x×](\d+)(?![\w.]|\.\d)", r"\1 times", text)


# abbreviation -> (singular, plural); the words are spelled out only after a number or "a"/"per".
_UNITS = {
    "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "h": ("hour", "hours"),
    "wk": ("week", "weeks"), "wks": ("week", "weeks"),
    "yr": ("year", "years"), "yrs": ("year", "years"),
    "mo": ("month", "months"), "mos": ("month", "months"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"), "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"), "kgs": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"), "l": ("liter", "liters"), "L": ("liter", "liters"),
    "tbsp": ("tablespoon", "tablespoons"), "Tbsp": ("tablespoon", "tablespoons"), "tbs": ("tablespoon", "tablespoons"),
    "tsp": ("teaspoon", "teaspoons"),
    "kcal": ("kilocalorie", "kilocalories"), "cal": ("calorie", "calories"),
    "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "KB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    "fps": ("frame per second", "frames per second"),
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"), "°": ("degree", "degrees"),
    "k": ("thousand", "thousand"), "K": ("thousand", "thousand"), "M": ("million", "million"), "mn": ("million", "million"),
    "B": ("billion", "billion"), "bn": ("billion", "billion"),
}
_PER_WORDS = ("month", "day", "week", "year", "hour", "minute", "person", "serving", "night", "piece", "portion", "unit", "item")
_SAFE_ALONE = ("mins", "secs", "hrs", "tbsp", "Tbsp", "tsp", "kgs", "lbs")   # never anything but the unit
_UNIT_NAMES = "|".join(re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True))
_WITH_NUMBER = re.compile(
    rf"(?<![\w./])(?<!\d,)(\d+\s\d+/\d+|\d+/\d+|\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(\s?-\s?|\s?)({_UNIT_NAMES})(?![^\W_])"
)
_PER_UNIT = re.compile(rf"\s?/\s?({_UNIT_NAMES}|{'|'.join(_PER_WORDS)})(?![^\W_])")
_WORD_UNITS = {unit.lower(): forms for unit, forms in _UNITS.items() if len(unit) > 1 and unit.isalpha() and unit not in ("mn", "bn")}
_AFTER_WORD = re.compile(rf"\b([a-z]+(?:-[a-z]+)?)\s+({'|'.join(sorted(_WORD_UNITS, key=len, reverse=True))})(?![^\W_])", re.IGNORECASE)
_SINGULAR_WORDS = frozenset({"a", "an", "per", "each", "one", "half", "quarter", "third"})
_NUMBER_WORDS = frozenset(_ONES + list(_TENS[2:]) + list(_SCALES[1:]) + ["hundred", "halves", "quarters", "thirds", "few", "several", "many"])
_ALONE = re.compile(rf"(?<![\w/])({'|'.join(_SAFE_ALONE)})\b\.?(?!\w)")


def _is_one_or_less(number: str) -> bool:
    number = number.replace(",", "")
    if " " in number:
        return False
    if "/" in number:
        numerator, denominator = number.split("/")
        return int(denominator) != 0 and Fraction(int(numerator), int(denominator)) < 1
    return number == "1"


def _expand_units(text: str) -> str:
    text = re.sub(r"(?<![\w.])(\d)'(\d{1,2})(?:\"|'')?(?![\w'])", r"\1 foot \2", text)   # a height: 5'10"

    def with_number(match: re.Match[str]) -> str:
        number, gap, unit = match.groups()
        if unit == "K" and len(number) == 1:
            return f"{number} K"          # "4K", "5K": video resolution and the race, not thousands
        singular, plural = _UNITS[unit]
        if "-" in gap:
            return f"{number}-{singular.replace(' ', '-')}"   # "a 5-min walk": a five-minute walk
        return f"{number} {singular if _is_one_or_less(number) else plural}"

    def per_unit(match: re.Match[str]) -> str:
        unit = match[1]
        return f" per {_UNITS[unit][0] if unit in _UNITS else unit}"

    text = _WITH_NUMBER.sub(with_number, text)
    return _PER_UNIT.sub(per_unit, text)


def _expand_units_after_words(text: str) -> str:
    """ "a tbsp", "per kg", "two mins" (numbers are words by now), and the plurals that can only be units."""

    def after_word(match: re.Match[str]) -> str:
        word, unit = match[1], match[2]
        last = word.lower().rsplit("-", 1)[-1]
        if word.lower() in _SINGULAR_WORDS:
            return f"{word} {_WORD_UNITS[unit.lower()][0]}"
        if last in _NUMBER_WORDS:
            return f"{word} {_WORD_UNITS[unit.lower()][1]}"
        return match[0]

    text = _AFTER_WORD.sub(after_word, text)
    return _ALONE.sub(lambda m: _UNITS[m[1]][1] if m[1].endswith("s") else _UNITS[m[1]][0], text)


_SPECIAL_SLASHES = {(24, 7): "twenty-four seven", (50, 50): "fifty fifty"}


def _say_fractions_and_ratios(text: str) -> str:
    def slash(match: re.Match[str]) -> str:
        numerator, denominator = int(match[1]), int(match[2])
        if re.search(r"\b(?:part|pt|episode|ep|step|day|week|chapter|slide|tip|round|level)\.?\s*$", match.string[: match.start()], re.IGNORECASE):
            return f"{cardinal_en(numerator)} of {cardinal_en(denominator)}"   # "part 2/3"
        return fraction(numerator, denominator)

    def fraction(numerator: int, denominator: int) -> str:
        if (numerator, denominator) in _SPECIAL_SLASHES:
            return _SPECIAL_SLASHES[numerator, denominator]
        if denominator in (10, 100) and numerator <= denominator or numerator == denominator:
            return f"{cardinal_en(numerator)} out of {cardinal_en(denominator)}"
        if 0 < numerator < denominator <= 16:
            return _fraction_en(numerator, denominator)
        return f"{cardinal_en(numerator)} over {cardinal_en(denominator)}"

    def mixed(match: re.Match[str]) -> str:
        whole, numerator, denominator = int(match[1]), int(match[2]), int(match[3])
        if not 0 < numerator < denominator <= 16:
            return match[0]
        part = {(1, 2): "a half", (1, 4): "a quarter", (1, 3): "a third"}.get((numerator, denominator)) or _fraction_en(numerator, denominator)
        return f"{cardinal_en(whole)} and {part}"

    def ratio(match: re.Match[str]) -> str:
        joiner = "by" if re.match(_ASPECT_WORDS, match.string[match.end():], re.IGNORECASE) else "to"
        return f"{cardinal_en(int(match[1]))} {joiner} {cardinal_en(int(match[2]))}"

    text = re.sub(r"(?<![\w./])(\d+)\s(\d+)/(\d+)(?![\w/]|\.\d)", mixed, text)
    text = re.sub(r"(?<![\w./])(\d+)/(\d+)(?![\w/]|\.\d)", slash, text)
    return re.sub(r"(?<![\w:.])(\d+):(\d+)(?![\w:]|\.\d)", ratio, text)


def _say_digit_groups_and_ranges(text: str) -> str:
    # "555-123-4567": three or more groups are a code or a phone number, read digit by digit.
    text = re.sub(r"(?<![\w.-])\d+(?:-\d+){2,}(?![\w-]|\.\d)", lambda m: ", ".join(_digits_en(g) for g in m[0].split("-")), text)
    text = re.sub(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*-\s*(?=\d)", r"\1 to ", text)
    return re.sub(r"(?<![\w.,])-(?=\.?\d)", "minus ", text)


# A number followed by one of these counts things, so "2000 calories" is not a year.
_COUNT_WORDS = frozenset(
    [word.lower() for forms in _UNITS.values() for form in forms for word in form.split()]
    + """percent dollar dollars euro euros pound pounds cent cents pence yen rupees people persons followers
    subscribers views likes comments shares users customers members students steps reps calories words pages
    items pieces points times hours minutes seconds days weeks months years miles meters metres feet inches cups
    grams kilos thousand million billion more plus per""".split()
)
_VERSION = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d])")
_LEADING_POINT = re.compile(r"(?<![\w.])\.(\d+)")
_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def _say_numbers_en(text: str) -> str:
    def number(match: re.Match[str]) -> str:
        whole, fraction = match[1], match[2]
        if fraction:
            return _decimal_en(whole, fraction)
        if len(whole) == 4 and 1100 <= int(whole) <= 2099:
            following = re.match(r"\s*([A-Za-z]+)", match.string[match.end():])
            preceding = match.string[: match.start()]
            counted = following is not None and following[1].lower() in _COUNT_WORDS
            if not counted and not re.search(r"\b(?:number|minus)\s*$", preceding):
                return year_en(int(whole))
        return _integer_en(whole)

    text = _LETTER_DIGIT.sub(" ", text)
    text = _VERSION.sub(lambda m: " point ".join(_integer_en(part) for part in m[0].split(".")), text)
    text = _LEADING_POINT.sub(lambda m: f"point {_digits_en(m[1])}", text)
    text = _NUMBER.sub(number, text)
    # Digits the rules above leave alone (glued to punctuation: "p.m.5") are still read out.
    return re.sub(r"\d+", lambda m: _integer_en(m[0]), text)


# --- other languages ------------------------------------------------------------------------


# What num2words' converters raise for a number, currency or option they cannot say.
_NUM2WORDS_ERRORS = (NotImplementedError, TypeError, ValueError, AttributeError, KeyError, IndexError, ArithmeticError)


def _other_language_rules(text: str, lang: _Language) -> str:
    if not lang.code:
        return text
    from num2words import num2words

    def spell(value: float | Decimal, **options: str) -> str | None:
        try:
            return str(num2words(value, lang=lang.code, **options))
        except _NUM2WORDS_ERRORS as error:
            logger.debug("num2words cannot say %r in %r: %s", value, lang.code, error)
            return None

    def money(match: re.Match[str]) -> str:
        sign, amount, currency = match["sign"], match["amount"] or match["amount2"], (match["currency"] or match["currency2"]).strip()
        code = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}.get(currency, currency)
        value = _parse_number(amount, lang.decimal_comma)
        if value is None:
            return match[0]
        # A Decimal, because num2words reads an int amount as cents.
        amount_value = Decimal(str(-value if sign else value))
        spoken = None
        if amount_value == amount_value.to_integral_value():
            # Whole amounts: num2words would add "zero cents"; cut at a separator we can find again.
            with_marker = spell(amount_value, to="currency", currency=code, separator="\x00")
            spoken = with_marker.split("\x00")[0].strip() if with_marker else None
        spoken = spoken or spell(amount_value, to="currency", currency=code)
        if spoken is None:
            spoken_number = spell(-value if sign else value)
            return f" {spoken_number} {currency} " if spoken_number else match[0]
        return f" {spoken} "

    def clock(match: re.Match[str]) -> str:
        hour, minute = spell(int(match[1])), spell(int(match[2]))
        if hour is None or minute is None:
            return match[0]
        return hour if int(match[2]) == 0 else f"{hour} {minute}"

    def number(match: re.Match[str]) -> str:
        sign, digits = match[1], match[2]
        if len(digits) > 1 and digits.startswith("0") and match[3] is None:
            spoken_digits = [spell(int(d)) for d in digits]
            return " ".join(d for d in spoken_digits if d) if all(spoken_digits) else match[0]
        value = _parse_number(match[0].lstrip("-"), lang.decimal_comma)
        if value is None:
            return match[0]
        spoken = None
        if not sign and match[3] is None and len(digits) == 4 and 1100 <= value <= 2099 and lang.code.split("_")[0] in _YEAR_STYLE_LANGUAGES:
            spoken = spell(value, to="year")
        return spoken or spell(-value if sign else value) or match[0]

    amount = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
    money_pattern = re.compile(
        rf"(?<![\w.,])(?P<sign>-)?(?:(?P<currency>{_SYMBOL}|{_CODE}\s?)\s?(?P<amount>{amount})"
        rf"|(?P<amount2>{amount})\s?(?P<currency2>{_SYMBOL}|\b{_CODE}\b))(?!\d|[.,]\d)"
    )
    text = money_pattern.sub(money, text)
    text = re.sub(r"(?<![\w:.,])(\d{1,2}):([0-5]\d)(?![\w:]|[.,]\d)", clock, text)
    # Split "v2" but not "2026年": scripts without letter case do not put spaces between words.
    text = _LETTER_DIGIT.sub(lambda m: " " if _cased_neighbour(m) else "", text)
    separators = r"(\d{1,3}(?:\.\d{3})+(?!\d)|\d+)((?:,|\.(?!\d{3}(?!\d)))\d+)?" if lang.decimal_comma else r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(\.\d+)?"
    text = re.sub(rf"(?<![\d.,])((?<![^\s(])-)?{separators}", number, text)
    # Digits glued to punctuation ("1,2,3" after "1,2" was read as a decimal) are still read out.
    return re.sub(r"(?<![-\d])\d+", lambda m: spell(int(m[0])) or m[0], text)


def _cased_neighbour(match: re.Match[str]) -> bool:
    around = match.string[max(match.start() - 1, 0): match.start() + 1]
    return any(ch.islower() or ch.isupper() for ch in around)


def _parse_number(text: str, decimal_comma: bool) -> int | float | None:
    """ "12.000" / "2,5" in decimal-comma languages, "12,000" / "2.5" elsewhere."""
    if decimal_comma:
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", text):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", ".")
    else:
        text = text.replace(",", "")
    try:
        return int(text) if text.isdigit() else float(text)
    except ValueError:
        return None


# --- symbols and punctuation ------------------------------------------------------------------

_SYMBOL_WORDS = {"%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "°": " degrees "}


def _say_or_drop_symbols(text: str, *, english: bool) -> str:
    if english:
        text = re.sub(r"[%+=@°]", lambda m: _SYMBOL_WORDS[m[0]], text)
        text = re.sub(r"\band/or\b", "and or", text)
        text = re.sub(r"(?<=[^\W\d_])\s?/\s?(?=[^\W\d_])", " or ", text)   # "and/or", "yes/no"
        text = re.sub(r"[$€£¥₹]", " ", text)
    else:
        text = re.sub(r"(?<=\w)%", " %", text)
    text = re.sub(r"[|•·]", ", ", text)
    text = re.sub(r"[/\\*_#~^<>{}\[\]()\"]", " ", text)
    text = re.sub(r"\s+-+\s+", ", ", f" {text} ")                 # a spaced dash is a pause
    text = re.sub(r"(?<![^\W_])-+(?![^\W_])", " ", text)          # stray hyphens
    return re.sub(r"(?<![^\W\d_])'|'(?![^\W\d_])", "", text)        # quotes, but not "don't" or "o'clock"


_PUNCTUATION_RUN = re.compile(r"[,;:.!?…]{2,}")


def _resolve_punctuation_run(match: re.Match[str]) -> str:
    run = match[0]
    if "?" in run:
        return "?"
    if "!" in run:
        return "!"
    if "…" in run or run.count(".") >= 3:
        return "…"
    if "." in run:
        return "."
    return run[0]


def _tidy_punctuation(text: str, *, english: bool) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,;:.!?…])", r"\1", text)
    text = _PUNCTUATION_RUN.sub(_resolve_punctuation_run, text)
    text = re.sub(r"([,;:!?…])(?=[^\W_])", r"\1 ", text)
    # A period glued between words: before a capital a sentence ends ("world.Then"),
    # otherwise it is read like a link's ("Node.js" -> "Node dot js").
    text = re.sub(r"(?<=[^\W\d_])\.(?=[^\W\d_]{2})", lambda m: " dot " if english and m.string[m.end()].islower() else ". ", text)
    text = re.sub(r"^[\s,;:.!?…]+", "", text)
    text = re.sub(r"[\s,;:]+$", "", text)
    return text.strip()


# --- sentences and words ----------------------------------------------------------------------

_TERMINALS = ".!?…。！？"
_CLOSERS = "\"')]}»”’"
_NOT_SENTENCE_ENDS = frozenset(
    "e.g. i.e. vs. dr. mr. mrs. ms. st. prof. approx. jr. sr. mt. fig. cf. a.k.a.".split()
)


def _ends_sentence(token: str, following: str | None) -> bool:
    core = token.rstrip(_CLOSERS)
    if not core or core[-1] not in _TERMINALS:
        return False
    if core[-1] == "…":
        # An ellipsis before a lowercase word is a pause inside the sentence.
        return following is None or not following[:1].islower()
    if core[-1] == ".":
        if core.lower() in _NOT_SENTENCE_ENDS or re.fullmatch(r"(?:[^\W\d_]\.){2,}|[A-Z]\.", core):
            return False     # abbreviations and initials: "U.S.", "J."
        if core.lower() == "no." and following is not None and following[:1].isdigit():
            return False     # "No. 5", but "I said no." ends
    return True


def _pack(pieces: Iterable[list[str]], max_chars: int) -> list[list[str]]:
    """Greedily join consecutive pieces (lists of tokens) while the result fits in max_chars."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for piece in pieces:
        if current and len(" ".join(current + piece)) > max_chars:
            chunks.append(current)
            current = []
        current = current + piece
    if current:
        chunks.append(current)
    return chunks


def _split_long(tokens: list[str], max_chars: int) -> list[list[str]]:
    if len(" ".join(tokens)) <= max_chars:
        return [tokens]
    clauses: list[list[str]] = [[]]
    for token in tokens:
        clauses[-1].append(token)
        if token.rstrip(_CLOSERS)[-1:] in ",;:":
            clauses.append([])
    clauses = [clause for clause in clauses if clause]
    pieces: list[list[str]] = []
    for clause in clauses:
        if len(" ".join(clause)) <= max_chars:
            pieces.append(clause)
        else:
            pieces.extend(_pack(([token] for token in clause), max_chars))
    return _pack(pieces, max_chars)


def split_sentences(text: str, max_chars: int = 280) -> list[str]:
    """Split at sentence ends, then split any sentence over ``max_chars`` at commas/semicolons, then between words.

    Only a single word longer than ``max_chars`` can make a chunk longer than ``max_chars``;
    ``" ".join(result)`` is ``text`` with its whitespace collapsed.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars={max_chars!r}: a chunk must hold at least one character; pass a positive limit such as 280")
    tokens = text.split()
    sentences: list[list[str]] = []
    current: list[str] = []
    for index, token in enumerate(tokens):
        current.append(token)
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if _ends_sentence(token, following):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return [" ".join(chunk) for sentence in sentences for chunk in _split_long(sentence, max_chars)]


_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")


def speakable_words(text: str) -> list[str]:
    """The words a listener hears in ``text`` as ``normalize`` returns it, without the punctuation around them.

    Hyphenated compounds ("twenty-two") and contractions ("o'clock") stay one word.
    """
    words = (_EDGE_PUNCTUATION.sub("", token) for token in text.split())
    return [word for word in words if word]
