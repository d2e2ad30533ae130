"""English readings of dates, clock times and durations, money, and units of measure."""

from __future__ import annotations

import re
from fractions import Fraction

from render.voice.text.number_words import _ONES, _SCALES, _TENS, _integer_en, _number_en, cardinal_en, ordinal_en, year_en
from render.voice.text.sentences import _at_sentence_end


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
