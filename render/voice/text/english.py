"""The English rules in the order they run, and the abbreviations they expand."""

from __future__ import annotations

import re
from collections.abc import Callable

from render.voice.text.numbers import (
    _say_decades,
    _say_digit_groups_and_ranges,
    _say_fractions_and_ratios,
    _say_multipliers,
    _say_numbers_en,
    _say_ordinals,
    _say_percentages,
)
from render.voice.text.quantities import _expand_units, _expand_units_after_words, _say_dates, _say_money, _say_times
from render.voice.text.sentences import _at_sentence_end


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
