"""Pure text helpers shared by the command grammar: normalisation, spoken numbers, fuzzy words.

ASR output comes with capitals, punctuation, hyphens ("twenty-one", "3-D") and numbers written
either as digits or as words. The grammar matches one canonical form: lower case, single spaces,
no punctuation, numbers as digits.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}

ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}

_PUNCT = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
# "2x2", "3x" -> "2 by 2": layouts are spoken "two by two" but written with an x.
_TIMES = re.compile(r"(\d)\s*[x×]\s*(\d)")
_ORDINAL_DIGITS = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")


def normalize(text: str) -> str:
    """Lower-case ``text``, drop punctuation, split hyphens and write spoken numbers as digits.

    Examples
    --------
    >>> normalize("Scroll down twenty-one slices, please.")
    'scroll down 21 slices please'
    >>> normalize("Show the 2x2 layout")
    'show the 2 by 2 layout'
    """
    text = text.lower().replace("-", " ").replace("'", "").replace("’", "")
    text = _TIMES.sub(r"\1 by \2", text)
    text = _PUNCT.sub(" ", text)
    text = _ORDINAL_DIGITS.sub(r"\1", text)
    tokens = _SPACES.sub(" ", text).strip().split(" ")
    return " ".join(words_to_digits([t for t in tokens if t]))


def words_to_digits(tokens: list[str]) -> list[str]:
    """Replace runs of number words with one digit token ("one hundred and five" -> "105").

    A run breaks where reading it as one number would be wrong: "one two" stays two numbers,
    and "and" joins only inside a number that has a hundreds part.
    """
    out: list[str] = []
    value: int | None = None  # the number being built
    has_units = False  # the current number already has a units/teens word
    has_tens = False
    pending_and = False

    def flush() -> None:
        nonlocal value, has_units, has_tens, pending_and
        if value is not None:
            out.append(str(value))
        if pending_and:
            out.append("and")
        value, has_units, has_tens, pending_and = None, False, False, False

    for token in tokens:
        if token in _UNITS:
            number = _UNITS[token]
            if value is None:
                value, has_units = number, True
            elif has_units or (has_tens and number >= 10):
                flush()
                value, has_units = number, True
            else:
                value += number
                has_units = True
            pending_and = False
        elif token in _TENS:
            if value is not None and (has_units or has_tens):
                flush()
            value = (value or 0) + _TENS[token]
            has_tens, pending_and = True, False
        elif token in _SCALES and value is not None:
            value *= _SCALES[token]
            has_units = has_tens = False
            pending_and = False
        elif token == "and" and value is not None and value >= 100 and not pending_and:
            pending_and = True
        elif token.isdecimal():
            flush()
            out.append(str(int(token)))
        else:
            flush()
            out.append(token)
    flush()
    return out


def fuzzy_correct(
    tokens: Iterable[str], vocabulary: set[str], *, cutoff: float = 0.84
) -> list[str]:
    """Replace long unknown words by a close grammar keyword ("sagital" -> "sagittal").

    Only words of six letters or more are corrected: short words are too easily confused
    ("lung" and "long"), and those variants are listed explicitly in the grammar instead.
    """
    words = sorted(vocabulary)
    corrected = []
    for token in tokens:
        if len(token) >= 6 and token not in vocabulary and not token.isdecimal():
            close = difflib.get_close_matches(token, words, n=1, cutoff=cutoff)
            corrected.append(close[0] if close else token)
        else:
            corrected.append(token)
    return corrected


def similar(a: str, b: str) -> float:
    """Similarity in [0, 1] of two strings, ignoring spaces."""
    return difflib.SequenceMatcher(None, a.replace(" ", ""), b.replace(" ", "")).ratio()
