"""English number words, American style: cardinals, ordinals, years, decimals and fractions ("105" -> "one hundred five")."""

from __future__ import annotations



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
