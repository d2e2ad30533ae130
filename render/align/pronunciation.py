"""Pronunciations in ARPAbet (the CMU dictionary's 39 phones) for words a dictionary lacks.

A forced aligner needs every word's phones. Names, brands and coinages ("reeltwin")
are not in the CMU dictionary, and PocketSphinx has no grapheme-to-phoneme model, so
``pronounce`` asks espeak-ng (bundled with ``piper-tts``, the voice stage's
phonemizer) for the word's IPA and maps it onto ARPAbet. Without piper-tts a small set
of English letter-to-sound rules (``letters_to_phones``) gives a rough pronunciation,
which is enough to keep the word's neighbours in place.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache

log = logging.getLogger(__name__)

#: the phones of the CMU dictionary (and of PocketSphinx's en-us acoustic model), stress marks removed
ARPABET = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split())

# IPA as espeak-ng writes US English, longest symbols first. Syllabic consonants ("bʌʔn̩") get a schwa,
# as the CMU dictionary writes them ("button" B AH T AH N); flaps and glottal stops are written T there.
_IPA_TO_ARPABET = {
    "tʃ": "CH", "dʒ": "JH", "eɪ": "EY", "aɪ": "AY", "ɔɪ": "OY", "aʊ": "AW", "oʊ": "OW", "əʊ": "OW",
    "ɪə": "IH AH", "eə": "EH R", "ʊə": "UH R", "iə": "IY AH",
    "n̩": "AH N", "l̩": "AH L", "m̩": "AH M", "ɹ̩": "ER",
    "iː": "IY", "uː": "UW", "ɑː": "AA", "ɔː": "AO", "ɜː": "ER", "ɚ": "ER", "ɝ": "ER", "ᵻ": "IH",
    "i": "IY", "ɪ": "IH", "e": "EH", "ɛ": "EH", "æ": "AE", "a": "AE", "ɐ": "AH", "ə": "AH", "ʌ": "AH",
    "ɑ": "AA", "ɒ": "AA", "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "y": "UW", "ɜ": "ER",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "f": "F", "v": "V",
    "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "x": "K", "ç": "HH",
    "m": "M", "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "ɹ": "R", "r": "R", "ɾ": "T", "ʔ": "T",
    "j": "Y", "w": "W", "ʍ": "W",
}
_IPA_SYMBOLS = sorted(_IPA_TO_ARPABET, key=len, reverse=True)
# stress, length and tie marks, syllable dots: no phone of their own
_IPA_IGNORED = set("ˈˌː.‿͡-_ ") | {"\u0303", "\u032f", "\u0329"}

_ESPEAK_LOCK = threading.Lock()


def ipa_to_arpabet(ipa: str) -> list[str]:
    """ARPAbet phones for an IPA string (espeak-ng's US English); unknown symbols are skipped."""
    ipa = unicodedata.normalize("NFC", ipa)
    phones: list[str] = []
    position = 0
    while position < len(ipa):
        for symbol in _IPA_SYMBOLS:
            if ipa.startswith(symbol, position):
                phones += _IPA_TO_ARPABET[symbol].split()
                position += len(symbol)
                break
        else:
            if ipa[position] not in _IPA_IGNORED:
                log.debug("no ARPAbet phone for IPA %r in %r", ipa[position], ipa)
            position += 1
    # espeak doubles a consonant across a syllable break ("ɹʊɹɹəl"); a dictionary never does
    return [phone for index, phone in enumerate(phones) if index == 0 or phone != phones[index - 1] or phone in _VOWELS]


_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())


@lru_cache(maxsize=1)
def _espeak() -> object | None:
    """piper-tts's espeak-ng bridge, initialised with its bundled data; None when piper-tts is not installed."""
    try:
        from piper import espeakbridge
        from piper.phonemize_espeak import ESPEAK_DATA_DIR
    except ImportError:
        return None
    espeakbridge.initialize(str(ESPEAK_DATA_DIR))
    return espeakbridge


def espeak_phones(word: str, voice: str = "en-us") -> list[str] | None:
    """ARPAbet phones for ``word`` from espeak-ng's IPA; None when espeak-ng is not available."""
    bridge = _espeak()
    if bridge is None:
        return None
    with _ESPEAK_LOCK:   # espeak-ng is one global state: the voice stage may use it too
        bridge.set_voice(voice)   # type: ignore[attr-defined]
        clauses = bridge.get_phonemes(word)   # type: ignore[attr-defined]
    ipa = " ".join(re.sub(r"\([^)]*\)", "", phonemes) for phonemes, _terminator, _end in clauses)
    return ipa_to_arpabet(ipa)


# --- letter-to-sound rules (the fallback) ---------------------------------------------------------

_LETTER_RULES = [
    ("tch", "CH"), ("sch", "S K"), ("igh", "AY"), ("ough", "AO"), ("tion", "SH AH N"), ("sion", "ZH AH N"),
    ("ch", "CH"), ("sh", "SH"), ("th", "TH"), ("ph", "F"), ("wh", "W"), ("ng", "NG"), ("ck", "K"), ("qu", "K W"),
    ("gh", ""), ("kn", "N"), ("wr", "R"), ("dg", "JH"),
    ("ee", "IY"), ("ea", "IY"), ("ie", "IY"), ("oo", "UW"), ("ou", "AW"), ("ow", "OW"), ("oa", "OW"), ("oi", "OY"),
    ("oy", "OY"), ("ai", "EY"), ("ay", "EY"), ("au", "AO"), ("aw", "AO"), ("ey", "IY"), ("ew", "UW"), ("ue", "UW"),
    ("ar", "AA R"), ("er", "ER"), ("ir", "ER"), ("ur", "ER"), ("or", "AO R"),
    ("a", "AE"), ("e", "EH"), ("i", "IH"), ("o", "AA"), ("u", "AH"), ("y", "IY"),
    ("b", "B"), ("c", "K"), ("d", "D"), ("f", "F"), ("g", "G"), ("h", "HH"), ("j", "JH"), ("k", "K"), ("l", "L"),
    ("m", "M"), ("n", "N"), ("p", "P"), ("q", "K"), ("r", "R"), ("s", "S"), ("t", "T"), ("v", "V"), ("w", "W"),
    ("x", "K S"), ("z", "Z"),
]
_DIGITS = {"0": "Z IY R OW", "1": "W AH N", "2": "T UW", "3": "TH R IY", "4": "F AO R", "5": "F AY V", "6": "S IH K S",
           "7": "S EH V AH N", "8": "EY T", "9": "N AY N"}


def letters_to_phones(word: str) -> list[str]:
    """A rough English pronunciation from spelling alone (no dictionary, no model)."""
    letters = "".join(ch for ch in unicodedata.normalize("NFKD", word.lower()) if ch.isascii() and (ch.isalnum()))
    if len(letters) > 3 and letters.endswith("e") and letters[-2] not in "aeiouy":
        letters = letters[:-1]   # a silent final e ("rate")
    phones: list[str] = []
    position = 0
    while position < len(letters):
        char = letters[position]
        if char.isdigit():
            phones += _DIGITS[char].split()
            position += 1
            continue
        if char == "y" and position == 0:
            phones.append("Y")
            position += 1
            continue
        if char == "c" and letters[position + 1: position + 2] in ("e", "i", "y"):
            phones.append("S")
            position += 1
            continue
        for spelling, sound in _LETTER_RULES:
            if letters.startswith(spelling, position):
                phones += sound.split()
                position += len(spelling)
                break
        else:
            position += 1
    return phones


def pronounce(word: str) -> list[str]:
    """ARPAbet phones for a word no dictionary holds: espeak-ng's reading when piper-tts is installed, else spelling rules."""
    phones: list[str] | None = None
    try:
        phones = espeak_phones(word)
    except Exception as error:  # noqa: BLE001 - a phonemizer failure only costs pronunciation quality
        log.warning("espeak-ng could not read %r (%s); using spelling rules", word, error)
    if not phones:
        phones = letters_to_phones(word)
    return [phone for phone in phones if phone in ARPABET]
