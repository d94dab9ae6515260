"""Text for the ear: units and symbols read naturally, answers split into sentences.

A text-to-speech engine reads "5 mm" as "five em em" and "-600 HU" as "minus six hundred
H U"; a radiologist expects "5 millimetres" and "minus 600 Hounsfield units". Markdown from a
model's answer ("**Finding:**", bullet points) must not be read aloud either. Pure functions,
no engine: the Speaker speaks what :func:`speakable` returns, one :func:`sentences` item at a
time so speech starts before the whole answer is synthesised.
"""

from __future__ import annotations

import re

#: Unit symbol -> (singular, plural). Matched only right after a number.
UNITS: dict[str, tuple[str, str]] = {
    "mm": ("millimetre", "millimetres"),
    "cm": ("centimetre", "centimetres"),
    "m": ("metre", "metres"),
    "µm": ("micrometre", "micrometres"),
    "um": ("micrometre", "micrometres"),
    "mm2": ("square millimetre", "square millimetres"),
    "mm²": ("square millimetre", "square millimetres"),
    "cm2": ("square centimetre", "square centimetres"),
    "cm²": ("square centimetre", "square centimetres"),
    "mm3": ("cubic millimetre", "cubic millimetres"),
    "mm³": ("cubic millimetre", "cubic millimetres"),
    "cm3": ("cubic centimetre", "cubic centimetres"),
    "cm³": ("cubic centimetre", "cubic centimetres"),
    "ml": ("millilitre", "millilitres"),
    "mL": ("millilitre", "millilitres"),
    "l": ("litre", "litres"),
    "L": ("litre", "litres"),
    "HU": ("Hounsfield unit", "Hounsfield units"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "s": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "min": ("minute", "minutes"),
    "h": ("hour", "hours"),
    "mGy": ("milligray", "milligray"),
    "mSv": ("millisievert", "millisieverts"),
    "Gy": ("gray", "gray"),
    "T": ("tesla", "tesla"),
    "kV": ("kilovolt", "kilovolts"),
    "kVp": ("kilovolt peak", "kilovolts peak"),
    "mAs": ("milliampere second", "milliampere seconds"),
    "bpm": ("beat per minute", "beats per minute"),
    "mmHg": ("millimetre of mercury", "millimetres of mercury"),
    "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
}

#: Abbreviations read out in full wherever they stand alone.
WORDS = {
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
    "vs.": "versus",
    "vs": "versus",
    "w/": "with",
    "w/o": "without",
    "CT": "C T",
    "MRI": "M R I",
    "PET": "pet",
}

_NUMBER = r"[-−+]?\d+(?:[.,]\d+)?"
_UNIT_ALTS = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
# "5 mm", "5mm", "3.2 x 4.1 cm", "10-12 mm" (the unit after the last number applies to all).
_QUANTITY = re.compile(
    rf"(?P<nums>{_NUMBER}(?:\s*(?:x|×|by|-|–|to)\s*{_NUMBER})*)\s*(?P<unit>{_UNIT_ALTS})(?![\w²³])"
)
_TIMES = re.compile(rf"(?<=\d)\s*[x×]\s*(?={_NUMBER})")
_RANGE = re.compile(r"(?<=\d)\s*[-–]\s*(?=\d)")
_MINUS = re.compile(r"(?<![\w.])[-−](?=\d)")
_SYMBOLS = {
    "±": " plus or minus ",
    "≤": " less than or equal to ",
    "≥": " greater than or equal to ",
    "<": " less than ",
    ">": " greater than ",
    "~": " about ",
    "≈": " about ",
    "&": " and ",
    "→": ", then ",
}
_MARKDOWN = [
    (re.compile(r"```.*?```", re.S), " "),
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)\*([^*]+)\*(?!\w)"), r"\1"),
    (re.compile(r"__([^_]+)__"), r"\1"),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),
    (re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.M), ""),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
]
# A sentence ends at . ! ? followed by space and a capital/digit, but not after abbreviations
# or inside decimals ("3.5 cm").
_ABBREVIATIONS = ("e.g.", "i.e.", "approx.", "vs.", "dr.", "mr.", "mrs.", "no.", "fig.", "cf.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def _quantity(match: re.Match[str]) -> str:
    nums, unit = match.group("nums"), match.group("unit")
    singular, plural = UNITS[unit]
    last = re.findall(_NUMBER, nums)[-1]
    one = re.fullmatch(r"[-−+]?1(?:[.,]0+)?", last) is not None
    nums = _TIMES.sub(" by ", nums)
    nums = _RANGE.sub(" to ", nums)
    return f"{nums} {singular if one else plural}"


def speakable(text: str) -> str:
    """``text`` rewritten to be read aloud: units, symbols and abbreviations in words.

    Examples
    --------
    >>> speakable("A 5 mm nodule; density -600 HU.")
    'A 5 millimetres nodule; density minus 600 Hounsfield units.'
    >>> speakable("Mass 3.2 x 4.1 cm (approx.)")
    'Mass 3.2 by 4.1 centimetres (approximately)'
    """
    for pattern, replacement in _MARKDOWN:
        text = pattern.sub(replacement, text)
    text = _QUANTITY.sub(_quantity, text)
    text = _TIMES.sub(" by ", text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = _MINUS.sub("minus ", text)
    for abbreviation, words in WORDS.items():
        text = re.sub(rf"(?<![\w.]){re.escape(abbreviation)}(?![\w/])", words, text)
    return re.sub(r"[ \t]+", " ", re.sub(r"\s*\n\s*", ". ", text)).replace(". .", ".").strip()


def sentences(text: str) -> list[str]:
    """``text`` split into sentences to speak one at a time (decimals and e.g. kept whole)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)", text):
        start = 0
        for match in _SENTENCE_END.finditer(paragraph):
            before = paragraph[start : match.start()].rstrip()
            if before.lower().endswith(_ABBREVIATIONS):
                continue
            pieces.append(paragraph[start : match.start()])
            start = match.end()
        pieces.append(paragraph[start:])
    return [p.strip() for p in pieces if p.strip()]
