"""Which language a script is in, and the rules for languages other than English (numbers and money through num2words)."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from decimal import Decimal

from render.voice.text.numbers import _LETTER_DIGIT
from render.voice.text.quantities import _CODE, _SYMBOL

logger = logging.getLogger(__name__)


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
