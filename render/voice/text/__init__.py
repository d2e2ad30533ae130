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

Where each reading lives: ``markup`` (Unicode, stage directions, markdown, emoji, links,
handles, hashtags, symbols, punctuation), ``english`` (abbreviations and the order of the
English rules), ``quantities`` (dates, times, money, units), ``numbers`` (every other
written number), ``number_words`` (English number words), ``languages`` (language codes
and the num2words rules for other languages), ``sentences`` (chunks and words).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from render.voice.text.english import _english_rules
from render.voice.text.languages import _other_language_rules, _resolve_language
from render.voice.text.markup import (
    _EMAIL,
    _HANDLE,
    _HASHTAG,
    _MARKDOWN_LINK,
    _URL,
    _clean_unicode,
    _drop_emoji,
    _drop_stage_directions,
    _flatten_markdown,
    _say_email,
    _say_handle,
    _say_hashtag,
    _say_or_drop_symbols,
    _say_url,
    _tidy_punctuation,
)
from render.voice.text.number_words import cardinal_en, ordinal_en, year_en
from render.voice.text.sentences import speakable_words, split_sentences


__all__ = ["Normalized", "cardinal_en", "normalize", "ordinal_en", "prepare", "speakable_words", "split_sentences", "year_en"]


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
