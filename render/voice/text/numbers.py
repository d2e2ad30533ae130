"""English readings of written numbers: percentages, decades, ordinals, multipliers, fractions and ratios,
digit groups and ranges, and the plain numbers (or years) left after every other rule."""

from __future__ import annotations

import re

from render.voice.text.number_words import (
    _SCALES,
    _decimal_en,
    _digits_en,
    _fraction_en,
    _integer_en,
    _number_en,
    _plural,
    cardinal_en,
    ordinal_en,
    year_en,
)
from render.voice.text.quantities import _ASPECT_WORDS, _UNITS


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
