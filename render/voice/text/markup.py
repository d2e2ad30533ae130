"""What a script holds besides words: Unicode clean-up, stage directions, markdown, emoji, links, e-mail
addresses, handles and hashtags, symbols, and the punctuation left at the end."""

from __future__ import annotations

import re
import unicodedata


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
