"""Text normalization for the voice stage: what the synthesizer is asked to say.

Each rule has a table of cases; the property checks at the end run every table's input
(and random scripts built from them) through the invariants a synthesizer relies on.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import unicodedata
from typing import Any

import pytest

from render.voice.text import languages as voice_languages
from render.voice.text import (
    Normalized,
    cardinal_en,
    normalize,
    ordinal_en,
    prepare,
    speakable_words,
    split_sentences,
    year_en,
)

NUMBERS = [
    ("0", "zero"),
    ("7", "seven"),
    ("13", "thirteen"),
    ("42", "forty-two"),
    ("100", "one hundred"),
    ("105", "one hundred five"),
    ("999", "nine hundred ninety-nine"),
    ("1000", "one thousand"),
    ("1050", "one thousand fifty"),
    ("12,000", "twelve thousand"),
    ("1,000,000", "one million"),
    ("1234567", "one million two hundred thirty-four thousand five hundred sixty-seven"),
    ("2,026", "two thousand twenty-six"),           # a thousands comma: a count, not a year
    ("2.5", "two point five"),
    ("0.75", "zero point seven five"),
    (".5", "point five"),
    ("3.14", "three point one four"),
    ("1,234.5", "one thousand two hundred thirty-four point five"),
    ("-3", "minus three"),
    ("-2.5", "minus two point five"),
    ("it was -5 outside", "it was minus five outside"),
    ("007", "zero zero seven"),
    ("v2.0.1", "v two point zero point one"),
    ("page2", "page two"),
    ("3D", "three D"),
    ("mp4", "mp four"),
    ("COVID-19", "COVID-nineteen"),
    ("a 19-year-old", "a nineteen-year-old"),
    ("555-123-4567", "five five five, one two three, four five six seven"),
    ("1,2,3", "one, two, three"),
]

YEARS = [
    ("1999", "nineteen ninety-nine"),
    ("2026", "twenty twenty-six"),
    ("2000", "two thousand"),
    ("2009", "two thousand nine"),
    ("2010", "twenty ten"),
    ("1905", "nineteen oh five"),
    ("1900", "nineteen hundred"),
    ("1100", "eleven hundred"),
    ("2099", "twenty ninety-nine"),
    ("1099", "one thousand ninety-nine"),
    ("2100", "two thousand one hundred"),
    ("in 1999 and 2026", "in nineteen ninety-nine and twenty twenty-six"),
    ("since 2020.", "since twenty twenty."),
    ("2020-2024", "twenty twenty to twenty twenty-four"),
    ("2000 calories", "two thousand calories"),
    ("1500 followers", "one thousand five hundred followers"),
    ("1200 kg", "one thousand two hundred kilograms"),
    ("2000 steps a day", "two thousand steps a day"),
    ("$2000", "two thousand dollars"),
    ("2000€", "two thousand euros"),
    ("#1999", "number one thousand nine hundred ninety-nine"),
    ("the 1990s", "the nineteen nineties"),
    ("the 2000s", "the two thousands"),
    ("the 1900s", "the nineteen hundreds"),
    ("the '90s", "the nineties"),
    ("in your 30s", "in your thirties"),
    ("100s of people", "hundreds of people"),
]

ORDINALS = [
    ("1st", "first"),
    ("2nd", "second"),
    ("3rd", "third"),
    ("4th", "fourth"),
    ("11th", "eleventh"),
    ("12th", "twelfth"),
    ("20th", "twentieth"),
    ("22nd", "twenty-second"),
    ("101st", "one hundred first"),
    ("1,000th", "one thousandth"),
    ("my 3RD try", "my third try"),
]

CURRENCY = [
    ("$5", "five dollars"),
    ("$1", "one dollar"),
    ("$5.99", "five dollars and ninety-nine cents"),
    ("$1.01", "one dollar and one cent"),
    ("$0.99", "ninety-nine cents"),
    ("$5.00", "five dollars"),
    ("$1,000", "one thousand dollars"),
    ("$5.5", "five point five dollars"),
    ("€2", "two euros"),
    ("€1", "one euro"),
    ("€2.50", "two euros and fifty cents"),
    ("2€", "two euros"),
    ("2 €", "two euros"),
    ("2 EUR", "two euros"),
    ("EUR 2", "two euros"),
    ("5 USD", "five dollars"),
    ("£1", "one pound"),
    ("£1.50", "one pound and fifty pence"),
    ("£0.01", "one penny"),
    ("¥500", "five hundred yen"),
    ("₹100", "one hundred rupees"),
    ("$5k", "five thousand dollars"),
    ("$2.5M", "two point five million dollars"),
    ("$5 million", "five million dollars"),
    ("$3B", "three billion dollars"),
    ("$5-10", "five to ten dollars"),
    ("$5-$10", "five to ten dollars"),
    ("$5.99-$9.99", "five dollars and ninety-nine cents to nine dollars and ninety-nine cents"),
    ("$10k-20k", "ten to twenty thousand dollars"),
    ("-$5", "minus five dollars"),
    ("$5/mo", "five dollars per month"),
    ("$12/month", "twelve dollars per month"),
    ("only $5.", "only five dollars."),
    ("only $.99", "only ninety-nine cents"),
    ("$0", "zero dollars"),
]

PERCENTAGES = [
    ("50%", "fifty percent"),
    ("2.5%", "two point five percent"),
    ("100 %", "one hundred percent"),
    ("-3%", "minus three percent"),
    ("10-15%", "ten to fifteen percent"),
    ("10%-15%", "ten to fifteen percent"),
    ("save 20%!", "save twenty percent!"),
]

TIMES = [
    ("9:30", "nine thirty"),
    ("9:05", "nine oh five"),
    ("10:00", "ten o'clock"),
    ("12:00", "twelve o'clock"),
    ("12:45", "twelve forty-five"),
    ("7pm", "seven p m"),
    ("7 pm", "seven p m"),
    ("7PM", "seven p m"),
    ("7 p.m. today", "seven p m today"),
    ("6am", "six a m"),
    ("9:30am", "nine thirty a m"),
    ("9:00 a.m.", "nine a m."),
    ("at 7 p.m. Then we eat", "at seven p m. Then we eat"),
    ("12am", "twelve a m"),
    ("18:00", "six p m"),
    ("18:30", "six thirty p m"),
    ("13:05", "one oh five p m"),
    ("08:15", "eight fifteen a m"),
    ("00:30", "twelve thirty a m"),
    ("00:00", "midnight"),
    ("24:00", "midnight"),
    ("9-5pm", "nine to five p m"),
    ("9am-5pm", "nine a m to five p m"),
    ("9:00-17:00", "nine a m to five p m"),
    ("9:00 - 10:30", "nine o'clock to ten thirty"),
    ("1:30:00", "one hour thirty minutes"),
    ("0:01:05", "one minute five seconds"),
    ("16:9 video", "sixteen by nine video"),
    ("9:16 format", "nine by sixteen format"),
    ("3:1", "three to one"),
    ("9:75", "nine to seventy-five"),
]

RANGES = [
    ("5-10 minutes", "five to ten minutes"),
    ("5–10 minutes", "five to ten minutes"),
    ("5 - 10 minutes", "five to ten minutes"),
    ("2-3 times a week", "two to three times a week"),
    ("5-10 mins", "five to ten minutes"),
    ("1.5-2 hours", "one point five to two hours"),
    ("a 9-5 job", "a nine to five job"),
    ("chapters 3—5", "chapters three to five"),
]

FRACTIONS = [
    ("1/2", "one half"),
    ("3/4", "three quarters"),
    ("1/4", "one quarter"),
    ("1/3", "one third"),
    ("2/3", "two thirds"),
    ("5/8", "five eighths"),
    ("1 1/2 cups", "one and a half cups"),
    ("2 1/4 cups", "two and a quarter cups"),
    ("½ cup", "one half cup"),
    ("1½ cups", "one and a half cups"),
    ("8/10", "eight out of ten"),
    ("10/10 would recommend", "ten out of ten would recommend"),
    ("95/100", "ninety-five out of one hundred"),
    ("24/7", "twenty-four seven"),
    ("50/50", "fifty fifty"),
    ("7/3", "seven over three"),
    ("Part 2/3", "Part two of three"),
    ("episode 4/10", "episode four of ten"),
    ("1/2 tsp", "one half teaspoon"),
    ("3/4 tbsp", "three quarters tablespoon"),
]

DATES = [
    ("12/25/2026", "December twenty-fifth, twenty twenty-six"),
    ("25/12/2026", "December twenty-fifth, twenty twenty-six"),
    ("2026-03-15", "March fifteenth, twenty twenty-six"),
    ("March 3", "March third"),
    ("March 3rd", "March third"),
    ("on Jan 1, 2027", "on January first, twenty twenty-seven"),
    ("Sept. 21", "September twenty-first"),
    ("3 March", "the third of March"),
    ("the 3rd of March", "the third of March"),
    ("March 2026", "March twenty twenty-six"),
]

ABBREVIATIONS = [
    ("e.g. rice", "for example rice"),
    ("fruit, e.g., apples", "fruit, for example, apples"),
    ("i.e. now", "that is now"),
    ("cats vs. dogs", "cats versus dogs"),
    ("cats vs dogs", "cats versus dogs"),
    ("apples, pears, etc. and more", "apples, pears, et cetera and more"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("apples, etc. Then bake", "apples, et cetera. Then bake"),
    ("approx. 5 min", "approximately five minutes"),
    ("approx 200 g", "approximately two hundred grams"),
    ("Dr. Smith", "Doctor Smith"),
    ("Mr. Brown", "Mister Brown"),
    ("Mrs. Brown", "Missus Brown"),
    ("Ms. Lee", "Miz Lee"),
    ("Prof. Xavier", "Professor Xavier"),
    ("St. Louis", "Saint Louis"),
    ("12 Main St.", "twelve Main Street."),
    ("Main St. is busy", "Main Street is busy"),
    ("salt & pepper", "salt and pepper"),
    ("R&D", "R and D"),
    ("w/ garlic", "with garlic"),
    ("rice w/o salt", "rice without salt"),
    ("b/c it works", "because it works"),
    ("w/e you like", "whatever you like"),
    ("I'm 25 y/o", "I'm twenty-five year old"),
    ("Q&A", "Q and A"),
    ("x2", "two times"),
    ("2x", "two times"),
    ("3x faster", "three times faster"),
    ("repeat x10", "repeat ten times"),
    ("1080x1920", "one thousand eighty by one thousand nine hundred twenty"),
    ("4 x 4", "four by four"),
    ("No. 5", "number five"),
    ("#1 tip", "number one tip"),
    ("~5 min", "about five minutes"),
    ("btw it works", "by the way it works"),
    ("aka the best", "also known as the best"),
    ("and/or", "and or"),
    ("yes/no", "yes or no"),
    ("10+ years", "ten plus years"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("meet @ noon", "meet at noon"),
]

UNITS = [
    ("1 min", "one minute"),
    ("5 min", "five minutes"),
    ("5 mins", "five minutes"),
    ("30 sec", "thirty seconds"),
    ("2 hrs", "two hours"),
    ("1 hr", "one hour"),
    ("24h", "twenty-four hours"),
    ("5km", "five kilometers"),
    ("1 km", "one kilometer"),
    ("2 kg", "two kilograms"),
    ("200g", "two hundred grams"),
    ("250 ml", "two hundred fifty milliliters"),
    ("1 tbsp", "one tablespoon"),
    ("2 tbsp", "two tablespoons"),
    ("1 tsp", "one teaspoon"),
    ("3 lbs", "three pounds"),
    ("6 ft", "six feet"),
    ("1 ft", "one foot"),
    ("5'10\" tall", "five foot ten tall"),
    ("8 oz", "eight ounces"),
    ("60 mph", "sixty miles per hour"),
    ("50 km/h", "fifty kilometers per hour"),
    ("500 kcal", "five hundred kilocalories"),
    ("2.5 kg", "two point five kilograms"),
    ("200°C", "two hundred degrees Celsius"),
    ("350 °F", "three hundred fifty degrees Fahrenheit"),
    ("-5°C", "minus five degrees Celsius"),
    ("1°", "one degree"),
    ("a 5-min walk", "a five-minute walk"),
    ("a tbsp of oil", "a tablespoon of oil"),
    ("per kg", "per kilogram"),
    ("€3/kg", "three euros per kilogram"),
    ("two mins", "two minutes"),
    ("add tbsp of honey", "add tablespoon of honey"),
    ("takes mins", "takes minutes"),
    ("10k steps", "ten thousand steps"),
    ("10K followers", "ten thousand followers"),
    ("1.5k", "one point five thousand"),
    ("2M views", "two million views"),
    ("4K video", "four K video"),
    ("a 5K run", "a five K run"),
    ("64GB", "sixty-four gigabytes"),
    ("60 fps", "sixty frames per second"),
    ("the min is 5", "the min is five"),      # "min" alone may mean minimum: left as written
]

LINKS_AND_HANDLES = [
    ("reeltwin.app/start", "reeltwin dot app slash start"),
    ("https://reeltwin.app/start", "reeltwin dot app slash start"),
    ("https://www.reeltwin.app/start/", "reeltwin dot app slash start"),
    ("www.example.com", "example dot com"),
    ("http://example.com/a/b?utm_source=ig#top", "example dot com slash a slash b"),
    ("go to reeltwin.app.", "go to reeltwin dot app."),
    ("(reeltwin.app)", "reeltwin dot app"),
    ("shop.my-site.co.uk/meal-prep", "shop dot my dash site dot co dot uk slash meal dash prep"),
    ("ReelTwin.ai", "ReelTwin dot ai"),
    ("example.com/page2", "example dot com slash page two"),
    ("alex@reeltwin.app", "alex at reeltwin dot app"),
    ("mail alex.cooks@gmail.com now", "mail alex dot cooks at gmail dot com now"),
    ("@alex.cooks", "at alex dot cooks"),
    ("@alex_cooks", "at alex underscore cooks"),
    ("follow @alex.cooks.", "follow at alex dot cooks."),
    ("@chef99", "at chef ninety-nine"),
    ("#MealPrep", "meal prep"),
    ("#mealprep", "mealprep"),
    ("#NYCFood", "NYC food"),
    ("#30DayChallenge", "thirty day challenge"),
    ("#meal_prep", "meal prep"),
    ("#MealPrep #BudgetEats", "meal prep budget eats"),
    ("#1", "number one"),
    ("e.g. and i.e. are not links", "for example and that is are not links"),
    ("Node.js", "Node dot js"),
    ("so good.Then stop", "so good. Then stop"),
]

EMOJI_AND_STAGE_DIRECTIONS = [
    ("Hello 🔥 world 😀", "Hello world"),
    ("Love it ❤️", "Love it"),
    ("Thumbs 👍🏽 up", "Thumbs up"),
    ("Flag 🇺🇸 here", "Flag here"),
    ("Family 👨‍👩‍👧 time", "Family time"),
    ("Done ✅ next", "Done next"),
    ("Step one → step two", "Step one, step two"),
    ("Great :) really", "Great really"),
    ("I <3 this", "I this"),
    ("[laughs] Okay", "Okay"),
    ("Okay (smiles) so", "Okay so"),
    ("Okay *pause* so", "Okay so"),
    ("Okay <breath> so", "Okay so"),
    ("So (long pause) yes", "So yes"),
    ("Taste it (points at camera) wow", "Taste it wow"),
    ("Okay (dramatically sighs) fine", "Okay fine"),
    ("We won (we beat the record) today", "We won, we beat the record, today"),
    ("(laughs softly) Anyway", "Anyway"),
    ("[MUSIC] Hi", "Hi"),
    ("Hi [pause] there [b-roll: kitchen]", "Hi there"),
    ("Bake it (at 200 degrees) for 20 minutes", "Bake it, at two hundred degrees, for twenty minutes"),
    ("It works (trust me).", "It works, trust me."),
    ("This is *really* good", "This is really good"),
    ("© 2026 ReelTwin™", "twenty twenty-six ReelTwin"),
]

MARKDOWN_AND_PUNCTUATION = [
    ("**bold** and __strong__", "bold and strong"),
    ("_it_ and *em*", "it and em"),
    ("`code` here", "code here"),
    ("~~old~~ new", "old new"),
    ("[the link](https://x.com) here", "the link here"),
    ("# Title\nBody text", "Title. Body text"),
    ("## Three tips:\n- one\n- two\n- three", "Three tips: one. two. three"),
    ("1. Chop\n2. Fry\n3. Eat", "Chop. Fry. Eat"),
    ("* first\n* second", "first. second"),
    ("> a quote", "a quote"),
    ("line one\nline two", "line one line two"),
    ("para one\n\npara two", "para one. para two"),
    ("Done!\n\nNext", "Done! Next"),
    ("above\n---\nbelow", "above. below"),
    ("Wow!!!", "Wow!"),
    ("Really?!?", "Really?"),
    ("What!?", "What?"),
    ("So...", "So…"),
    ("Wait.. what", "Wait. what"),
    ("Wait…what", "Wait… what"),
    ("Hello ,world", "Hello, world"),
    ("Hello,,, world", "Hello, world"),
    ("  lots   of \t space  ", "lots of space"),
    ("\"Quoted\" words", "Quoted words"),
    ("“Smart” quotes and don’t", "Smart quotes and don't"),
    ("'single quotes'", "single quotes"),
    ("rock 'n' roll", "rock n roll"),
    ("It's 10 o'clock", "It's ten o'clock"),
    ("well - maybe", "well, maybe"),
    ("well — maybe", "well, maybe"),
    ("well -- maybe", "well, maybe"),
    ("A | B", "A, B"),
    ("trailing comma,", "trailing comma"),
    (", leading comma", "leading comma"),
    ("zero\u200bwidth\u00adjoin", "zerowidthjoin"),
    ("", ""),
    ("🔥🔥🔥", ""),
]

ENGLISH_TABLES = {
    "numbers": NUMBERS,
    "years": YEARS,
    "ordinals": ORDINALS,
    "currency": CURRENCY,
    "percentages": PERCENTAGES,
    "times": TIMES,
    "ranges": RANGES,
    "fractions": FRACTIONS,
    "dates": DATES,
    "abbreviations": ABBREVIATIONS,
    "units": UNITS,
    "links and handles": LINKS_AND_HANDLES,
    "emoji and stage directions": EMOJI_AND_STAGE_DIRECTIONS,
    "markdown and punctuation": MARKDOWN_AND_PUNCTUATION,
}
ALL_ENGLISH = [case for table in ENGLISH_TABLES.values() for case in table]


def _cases(table: list[tuple[str, str]]) -> list[Any]:
    return [pytest.param(written, spoken, id=written or "empty") for written, spoken in table]


@pytest.mark.parametrize(("written", "spoken"), _cases(NUMBERS))
def test_numbers(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(YEARS))
def test_years_are_told_from_counts_by_context(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(ORDINALS))
def test_ordinals(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(CURRENCY))
def test_currency(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(PERCENTAGES))
def test_percentages(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(TIMES))
def test_times(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(RANGES))
def test_ranges(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(FRACTIONS))
def test_fractions_ratings_and_ratios(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(DATES))
def test_dates(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(ABBREVIATIONS))
def test_abbreviations_and_symbols(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(UNITS))
def test_units(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(LINKS_AND_HANDLES))
def test_links_addresses_handles_and_hashtags(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(EMOJI_AND_STAGE_DIRECTIONS))
def test_emoji_and_stage_directions_are_not_spoken(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(("written", "spoken"), _cases(MARKDOWN_AND_PUNCTUATION))
def test_markdown_punctuation_and_whitespace(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


@pytest.mark.parametrize(
    ("number", "cardinal", "ordinal"),
    [
        (0, "zero", "zeroth"),
        (1, "one", "first"),
        (8, "eight", "eighth"),
        (9, "nine", "ninth"),
        (12, "twelve", "twelfth"),
        (40, "forty", "fortieth"),
        (99, "ninety-nine", "ninety-ninth"),
        (100, "one hundred", "one hundredth"),
        (1_000_001, "one million one", "one million first"),
        (10**21, "one sextillion", "one sextillionth"),
        (-12, "minus twelve", "minus twelfth"),
    ],
)
def test_english_number_words(number: int, cardinal: str, ordinal: str) -> None:
    assert cardinal_en(number) == cardinal
    assert ordinal_en(number) == ordinal


def test_numbers_too_long_to_name_are_read_digit_by_digit() -> None:
    assert cardinal_en(10**24) == "one " + " ".join(["zero"] * 24)
    assert not re.search(r"\d", normalize("9" * 40))


@pytest.mark.parametrize(("year", "spoken"), [(1066, "ten sixty-six"), (1800, "eighteen hundred"), (2001, "two thousand one"), (2020, "twenty twenty")])
def test_year_words(year: int, spoken: str) -> None:
    assert year_en(year) == spoken


# --- other languages ------------------------------------------------------------------------

OTHER_LANGUAGES = [
    ("de", "Ich habe 12.000 Follower", "Ich habe zwölftausend Follower"),
    ("de", "2,5 Tassen", "zwei Komma fünf Tassen"),
    ("de", "Im Jahr 1999", "Im Jahr neunzehnhundertneunundneunzig"),
    ("de", "Das kostet 5,99 €.", "Das kostet fünf Euro und neunundneunzig Cent."),
    ("de", "Nur 5 €!", "Nur fünf Euro!"),
    ("de", "-3 Grad", "minus drei Grad"),
    ("de", "Um 9:30 Uhr", "Um neun dreißig Uhr"),
    ("de", "50% 🔥", "fünfzig %"),
    ("de", "Folge @alex.cooks #MealPrep", "Folge alex cooks meal prep"),
    ("de", "Mehr auf reeltwin.app/start", "Mehr auf reeltwin app start"),
    ("de", "Hallo [lacht] du", "Hallo du"),
    ("de", "Seite 007", "Seite null null sieben"),
    ("de-AT", "3 Äpfel", "drei Äpfel"),
    ("fr", "J'ai 3 chats", "J'ai trois chats"),
    ("fr", "1\u202f200 abonnés", "mille deux cents abonnés"),
    ("fr", "2,5 kilos pour $5", "deux virgule cinq kilos pour cinq dollars"),
    ("es", "Cuesta €2 o 10 EUR", "Cuesta dos euros o diez euros"),
    ("es", "En 2026", "En dos mil veintiséis"),
    ("nl", "In 1999", "In negentien honderd negenennegentig"),
    ("it", "Ho 21 anni", "Ho ventuno anni"),
    ("pt-BR", "São 42 reais", "São quarenta e dois reais"),
    ("pt_br", "São 42 reais", "São quarenta e dois reais"),
    ("ja", "2026年に3つ", "二千二十六年に三つ"),
    ("en-US", "The 1st of 3", "The first of three"),
    ("en_GB", "$5 & 50%", "five dollars and fifty percent"),
]


@pytest.mark.parametrize(("language", "written", "spoken"), [pytest.param(*case, id=f"{case[0]}:{case[1]}") for case in OTHER_LANGUAGES])
def test_other_languages_spell_numbers_with_num2words(language: str, written: str, spoken: str) -> None:
    pytest.importorskip("num2words")
    assert normalize(written, language) == spoken
    assert normalize(spoken, language) == spoken


@pytest.mark.parametrize(
    ("language", "written"),
    [("de", "vs. etc. approx. Dr. Smith w/ 5 min"), ("fr", "e.g. 7pm")],
)
def test_english_only_rules_stay_out_of_other_languages(language: str, written: str) -> None:
    pytest.importorskip("num2words")
    spoken = normalize(written, language)
    for english in ("versus", "et cetera", "approximately", "Doctor", "with", "minutes", "for example", "p m"):
        assert english not in spoken


@pytest.mark.parametrize("language", ["xx", "tlh", "", "zz-ZZ"])
def test_unknown_language_keeps_digits_and_warns(language: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="render.voice.text"):
        spoken = normalize("I have 5 cats 🐱 [purrs] and **2** dogs.", language)
    assert spoken == "I have 5 cats and 2 dogs."
    assert any(record.levelno == logging.WARNING and repr(language) in record.getMessage() for record in caplog.records)


def test_without_num2words_other_languages_keep_digits_and_warn(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(voice_languages, "_num2words_languages", frozenset)
    with caplog.at_level(logging.WARNING, logger="render.voice.text"):
        assert normalize("Ich habe 5 Katzen", "de") == "Ich habe 5 Katzen"
    assert "num2words is not installed" in caplog.text
    assert normalize("I have 5 cats", "en") == "I have five cats"   # English needs no num2words


# --- sentences and words --------------------------------------------------------------------

SENTENCES = [
    ("One. Two! Three? Four…", ["One.", "Two!", "Three?", "Four…"]),
    ("No end punctuation", ["No end punctuation"]),
    ("It costs 2.5 dollars. Cheap.", ["It costs 2.5 dollars.", "Cheap."]),
    ("Dr. Smith said hi. Then left.", ["Dr. Smith said hi.", "Then left."]),
    ("Use e.g. rice. Or not.", ["Use e.g. rice.", "Or not."]),
    ("The U.S. Army is big. Yes.", ["The U.S. Army is big.", "Yes."]),
    ("Wait… what? No.", ["Wait… what?", "No."]),
    ("Wait… Okay.", ["Wait…", "Okay."]),
    ("five dollars. that is all.", ["five dollars.", "that is all."]),
    ('He said "go." Then went.', ['He said "go."', "Then went."]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("I said no. Then left.", ["I said no.", "Then left."]),
    ("Tip No. 5 is best. Yes.", ["Tip No. 5 is best.", "Yes."]),
    ("  spaced   out.  Text ", ["spaced out.", "Text"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=t or "empty") for t, e in SENTENCES])
def test_split_sentences_at_sentence_ends(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("first part, second part, third part.", 25, ["first part, second part,", "third part."]),
        ("alpha; beta; gamma; delta.", 13, ["alpha; beta;", "gamma; delta."]),
        ("one two three four five six", 10, ["one two", "three four", "five six"]),
        ("short. a much longer sentence, with a clause.", 20, ["short.", "a much longer", "sentence,", "with a clause."]),
        ("tiny", 1, ["tiny"]),                               # one word longer than the limit stays whole
        ("a supercalifragilistic b", 5, ["a", "supercalifragilistic", "b"]),
    ],
)
def test_split_sentences_keeps_chunks_within_max_chars(text: str, max_chars: int, expected: list[str]) -> None:
    assert split_sentences(text, max_chars) == expected


@pytest.mark.parametrize("max_chars", [0, -5])
def test_split_sentences_refuses_a_limit_below_one(max_chars: int) -> None:
    with pytest.raises(ValueError, match=rf"max_chars={max_chars}"):
        split_sentences("Hello.", max_chars)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, world!", ["Hello", "world"]),
        ("twenty-two o'clock… really?", ["twenty-two", "o'clock", "really"]),
        ("seven p m.", ["seven", "p", "m"]),
        ("It's \"quoted\" (here).", ["It's", "quoted", "here"]),
        (", ; … !", []),
        ("", []),
    ],
)
def test_speakable_words(text: str, words: list[str]) -> None:
    assert speakable_words(text) == words


def test_prepare_returns_a_frozen_normalized_script() -> None:
    prepared = prepare("Hi! It's $5.99 (laughs) for 2 tbsp. Ok?", max_chars=40)
    assert prepared == Normalized(
        original="Hi! It's $5.99 (laughs) for 2 tbsp. Ok?",
        spoken="Hi! It's five dollars and ninety-nine cents for two tablespoons. Ok?",
        sentences=("Hi!", "It's five dollars and ninety-nine cents", "for two tablespoons.", "Ok?"),
        words=("Hi", "It's", "five", "dollars", "and", "ninety-nine", "cents", "for", "two", "tablespoons", "Ok"),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.spoken = "changed"  # type: ignore[misc]
    assert [field.name for field in dataclasses.fields(Normalized)] == ["original", "spoken", "sentences", "words"]


def test_prepare_passes_the_language_on() -> None:
    pytest.importorskip("num2words")
    assert prepare("Ich habe 3 Katzen.", "de").words == ("Ich", "habe", "drei", "Katzen")


REEL_SCRIPT = """# 3 Meal-Prep Hacks 🔥

Hey guys! (smiles) It's 2026 and I still spend under $5.99 a day on lunch.

1. Cook 2 cups of rice w/ 1 tbsp of oil - takes 15-20 mins.
2. Roast veggies at 200°C for 25 min… trust me.
3. Portion it into 4 boxes & freeze 50% of them.

That's approx. 1,200 calories/day, e.g. perfect for a 9-5 job. [laughs]
Full recipe at https://www.reeltwin.app/meal-prep or DM @alex.cooks before 7pm! #MealPrep #BudgetEats"""

REEL_SPOKEN = (
    "three Meal-Prep Hacks. Hey guys! It's twenty twenty-six and I still spend under five dollars and ninety-nine cents "
    "a day on lunch. Cook two cups of rice with one tablespoon of oil, takes fifteen to twenty minutes. Roast veggies "
    "at two hundred degrees Celsius for twenty-five minutes… trust me. Portion it into four boxes and freeze fifty "
    "percent of them. That's approximately one thousand two hundred calories per day, for example perfect for a nine "
    "to five job. Full recipe at reeltwin dot app slash meal dash prep or DM at alex dot cooks before seven p m! "
    "meal prep budget eats"
)


def test_a_realistic_reel_script() -> None:
    assert 70 <= len(REEL_SCRIPT.split()) <= 90
    prepared = prepare(REEL_SCRIPT, max_chars=100)
    assert prepared.spoken == REEL_SPOKEN
    assert prepared.sentences == (
        "three Meal-Prep Hacks.",
        "Hey guys!",
        "It's twenty twenty-six and I still spend under five dollars and ninety-nine cents a day on lunch.",
        "Cook two cups of rice with one tablespoon of oil, takes fifteen to twenty minutes.",
        "Roast veggies at two hundred degrees Celsius for twenty-five minutes… trust me.",
        "Portion it into four boxes and freeze fifty percent of them.",
        "That's approximately one thousand two hundred calories per day,",
        "for example perfect for a nine to five job.",
        "Full recipe at reeltwin dot app slash meal dash prep or DM at alex dot cooks before seven p m!",
        "meal prep budget eats",
    )
    assert len(prepared.words) == 102
    assert prepared.words[-4:] == ("meal", "prep", "budget", "eats")


# --- properties -----------------------------------------------------------------------------

_BRACKETS = re.compile(r"[\[\]{}()<>]")
_LEFTOVER_SYMBOLS = re.compile(r"[*_#@%$€£¥₹&/\\|~^`\"+=]")


def _is_emoji_or_symbol(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Cs", "Co") or ch in "\ufe0f\u200d"


def _random_scripts(count: int, seed: int) -> list[str]:
    fragments = [written for written, _ in ALL_ENGLISH] + [
        "🔥", "😀👍🏽", "!!!", "...", "?!", "(laughs)", "[pause]", "*sighs*", "<breath>", "\n\n", "\n- ", "# ", "**",
        "Hello,", "world.", "Wait…", "what?", "the", "I", "(trust me)", '"quoted"', "it's", "—", "/", "&", "%", "$", ":",
    ]
    separators = [" ", " ", " ", "\n", ", ", ". "]
    rng = random.Random(seed)
    return ["".join(rng.choice(fragments) + rng.choice(separators) for _ in range(rng.randint(1, 14))) for _ in range(count)]


PROPERTY_INPUTS = [written for written, _ in ALL_ENGLISH] + [REEL_SCRIPT] + _random_scripts(400, seed=20260101)


@pytest.mark.parametrize(("written", "spoken"), _cases(ALL_ENGLISH))
def test_every_expected_output_is_already_normal(written: str, spoken: str) -> None:
    assert normalize(spoken) == spoken


def test_english_output_has_no_digits_emoji_brackets_or_stray_symbols() -> None:
    for written in PROPERTY_INPUTS:
        spoken = normalize(written)
        assert not re.search(r"\d", spoken), (written, spoken)
        assert not any(_is_emoji_or_symbol(ch) for ch in spoken), (written, spoken)
        assert not _BRACKETS.search(spoken), (written, spoken)
        assert not _LEFTOVER_SYMBOLS.search(spoken), (written, spoken)
        assert spoken == spoken.strip() and "  " not in spoken and "\n" not in spoken, (written, spoken)


def test_normalize_is_idempotent() -> None:
    for written in PROPERTY_INPUTS:
        once = normalize(written)
        assert normalize(once) == once, written


@pytest.mark.parametrize("max_chars", [1, 12, 40, 80, 280])
def test_split_sentences_respects_max_chars_and_loses_no_words(max_chars: int) -> None:
    for written in PROPERTY_INPUTS:
        spoken = normalize(written)
        chunks = split_sentences(spoken, max_chars)
        assert " ".join(chunks) == spoken, written
        assert all(chunk and chunk == chunk.strip() for chunk in chunks)
        # Only a single word longer than the limit may stand alone over it.
        assert all(len(chunk) <= max_chars or " " not in chunk for chunk in chunks), (max_chars, chunks)
        assert [word for chunk in chunks for word in speakable_words(chunk)] == speakable_words(spoken)


def test_words_are_the_spoken_text_without_punctuation() -> None:
    for written in PROPERTY_INPUTS:
        prepared = prepare(written)
        assert prepared.words == tuple(speakable_words(prepared.spoken))
        assert all(re.fullmatch(r"[^\W_](?:[\w'-]*[^\W_])?", word) for word in prepared.words), prepared.words
        assert " ".join(prepared.sentences) == prepared.spoken


def _num2words_languages() -> list[str]:
    try:
        from num2words import CONVERTER_CLASSES
    except ImportError:
        return []
    return sorted(CONVERTER_CLASSES)


@pytest.mark.parametrize("language", _num2words_languages())
def test_every_num2words_language_finishes_and_is_idempotent(language: str) -> None:
    for written in PROPERTY_INPUTS[::20]:
        once = normalize(written, language)
        assert normalize(once, language) == once, (language, written)
        # Other languages keep "°", "%" and currency signs their synthesizer reads; emoji and brackets still go.
        assert not any(_is_emoji_or_symbol(ch) for ch in once.replace("°", "")), (language, written)
        assert not _BRACKETS.search(once), (language, written)


def test_a_num2words_converter_that_hangs_is_never_called(caplog: pytest.LogCaptureFixture) -> None:
    # num2words' Amharic converter loops forever on 1234567.
    with caplog.at_level(logging.WARNING, logger="render.voice.text"):
        assert normalize("1234567", "am") == "1234567"
    assert "'am'" in caplog.text
