"""Removing identifiers from free text: the study's own (names, IDs, birth date, accession
number, institution) and anything shaped like one (dates, record numbers, UIDs, phone numbers,
e-mail addresses).

Spoken questions are the hard case: speech recognition spells a name it has never heard in
its own way ("Quokka" comes back as "Kwaka", two names as one word) and breaks IDs into
pieces. So names are also matched by a crude sound-alike key and similarity, IDs with any
separators between their characters, and an institution by its distinctive words as well as
in full. A scrubber errs on the side of removing: a clinical word that happens to sound like
the patient's name is replaced too (the count of removals is logged, never the text).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from voxrad.core.study import PatientIdentity

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_SEP = r"[\s\-_./:#]*"
#: Generic patterns, applied whether or not the study's identity is known. Order matters:
#: the longest forms (UIDs, labelled numbers) go first.
_GENERIC: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")),
    ("uid", re.compile(r"\b\d{1,10}(?:\.\d{1,20}){4,40}\b")),
    (
        "id",
        re.compile(
            r"\b(?:mrn|medical record(?: number)?|patient(?: id| number)|hospital number|"
            r"accession(?: number| no)?|nhs number|ssn|social security(?: number)?)"
            r"(?:[\s,:#]{0,3}(?:is|was|number|no\.?)){0,2}[\s,:#]{0,3}[A-Z0-9][A-Z0-9\-/.]{1,30}"
            # A recogniser splits an ID into words ("accession CC 55821X"): the words after
            # the label that hold a digit are part of it.
            r"(?:[\s\-]{1,2}[A-Z0-9\-/.]{0,30}\d[A-Z0-9\-/.]{0,30}){0,3}",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|"
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s{{1,3}}(?:of\s{{1,3}})?(?:{_MONTHS})\.?,?\s{{1,3}}\d{{4}}\b|"
            rf"\b(?:{_MONTHS})\.?\s{{1,3}}\d{{1,2}}(?:st|nd|rd|th)?,?\s{{1,3}}\d{{4}}\b",
            re.IGNORECASE,
        ),
    ),
    (
        "phone",
        re.compile(r"(?<![\w.])(?:\+\d[\d \-]{7,16}\d|\(?\d{3}\)?[ \-.]\d{3}[ \-.]\d{4})(?![\w.])"),
    ),
    ("id", re.compile(r"(?<![\w.])\d{6,}(?![\w.])")),
)
#: Name parts too common to remove on their own (titles, suffixes); full names still go.
_NAME_STOPWORDS = frozenset({"DR", "MR", "MRS", "MS", "MISS", "PROF", "JR", "SR", "II", "III"})

#: Institution words too generic to remove on their own; the full name still goes.
_INSTITUTION_STOPWORDS = frozenset(
    [
        "saint",
        "st",
        "the",
        "of",
        "and",
        "for",
        "at",
        "hospital",
        "hospitals",
        "infirmary",
        "clinic",
        "clinics",
        "medical",
        "medicine",
        "center",
        "centre",
        "centres",
        "university",
        "general",
        "health",
        "healthcare",
        "trust",
        "foundation",
        "nhs",
        "royal",
        "national",
        "regional",
        "county",
        "city",
        "community",
        "memorial",
        "children",
        "childrens",
        "women",
        "womens",
        "institute",
        "imaging",
        "radiology",
        "department",
        "dept",
        "practice",
        "group",
        "care",
        "services",
        "network",
        "system",
    ]
)
#: Fuzzy name matching: only for name parts this long (short names collide with words).
_FUZZY_MIN_LENGTH = 5
_FUZZY_RATIO = 0.75
_WORD = re.compile(r"[^\W\d_]{4,40}")
#: Look-arounds bounding a study's own identifier: anything but a letter or digit.
_WORD_EDGES = (r"(?<![^\W_])", r"(?![^\W_])")


def _sound_key(word: str) -> str:
    """A crude English sound-alike key: spellings a recogniser confuses map together
    ("quokka", "kwaka" -> "kwoka"/"kwaka"; "philippa", "filipa" -> "filipa")."""
    w = word.lower()
    for a, b in (
        ("qu", "kw"),
        ("ck", "k"),
        ("ph", "f"),
        ("c", "k"),
        ("z", "s"),
        ("y", "i"),
        ("v", "f"),
        ("h", ""),
        ("x", "ks"),
    ):
        w = w.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", w)


def _similar(token: str, part: str) -> bool:
    """True when ``token`` is, or contains (names run together), something like ``part``."""
    t, p = _sound_key(token), _sound_key(part)
    if SequenceMatcher(None, t, p).ratio() >= _FUZZY_RATIO:
        return True
    if len(t) < len(p) + 3:
        return False
    for size in (len(p) - 1, len(p), len(p) + 1):
        for start in range(len(t) - size + 1):
            if SequenceMatcher(None, t[start : start + size], p).ratio() >= _FUZZY_RATIO:
                return True
    return False


def _flexible(value: str) -> str | None:
    """A pattern for an ID however it is written or spoken: any separators between characters
    ("CAN-12/3", "can 1 2 3"); None when the value is too short to match safely."""
    chars = [c for c in value if c.isalnum()]
    if len(chars) < 4:
        return None
    return _SEP.join(re.escape(c) for c in chars)


def _date_variants(dicom_date: str) -> list[str]:
    """Spellings of a DICOM date (YYYYMMDD) that a generic date pattern might miss."""
    digits = "".join(c for c in dicom_date if c.isdigit())
    if len(digits) != 8:
        return [re.escape(dicom_date)] if dicom_date.strip() else []
    y, m, d = digits[:4], digits[4:6], digits[6:]
    return [digits, rf"{y}{_SEP}{m}{_SEP}{d}", rf"{d}{_SEP}{m}{_SEP}{y}", rf"{m}{_SEP}{d}{_SEP}{y}"]


def _name_parts(name: str) -> list[str]:
    """Words of a DICOM person name (``Family^Given^Middle^Prefix^Suffix``), longest first."""
    words = re.split(r"[\^=\s,]+", name)
    parts = {w.strip(".'") for w in words if len(w.strip(".'")) >= 2}
    return sorted((p for p in parts if p.upper() not in _NAME_STOPWORDS), key=len, reverse=True)


@dataclass(frozen=True)
class Scrubber:
    """Removes identifiers from free text; build one per study with :meth:`for_identity`."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...] = _GENERIC
    #: How many of ``patterns`` (the first ones) are this study's own identifiers.
    specific: int = 0
    #: Name parts matched by sound and similarity as well (see :func:`_similar`).
    fuzzy_names: tuple[str, ...] = ()

    @classmethod
    def for_identity(cls, identity: PatientIdentity | None) -> Scrubber:
        """A scrubber for this study's identifiers plus the generic patterns."""
        if identity is None:
            return cls()
        specific: list[tuple[str, re.Pattern[str]]] = []

        def add(kind: str, pattern: str | None, *, within_words: bool = False) -> None:
            # Bounded by anything but a letter or digit: folder names join words with "_".
            # ``within_words``: bounded by anything but a digit (letters may touch it).
            if pattern:
                before, after = (r"(?<!\d)", r"(?!\d)") if within_words else _WORD_EDGES
                specific.append((kind, re.compile(rf"{before}{pattern}{after}", re.IGNORECASE)))

        for kind, value in (("id", identity.patient_id), ("id", identity.accession_number)):
            if value.strip():
                add(kind, _flexible(value) or re.escape(value.strip()))
                # The digits alone too, wherever they stand: recognisers drop, mishear or run
                # on the letters of an ID ("ACC55821X" heard as "CC 55821X"). A run of four or
                # more digits equal to this patient's ID is no clinical number.
                digits = "".join(c for c in value if c.isdigit())
                if len(digits) >= 4 and digits != value.strip():
                    add(kind, _flexible(digits), within_words=True)
        if identity.institution.strip():
            words = re.findall(r"\w+", identity.institution)
            add("institution", r"\W{0,3}".join(re.escape(w) for w in words))
            for word in words:
                if len(word) >= 4 and word.lower() not in _INSTITUTION_STOPWORDS:
                    add("institution", re.escape(word))
        for variant in _date_variants(identity.birth_date):
            add("date", variant)
        for part in _name_parts(identity.name):
            add("name", re.escape(part))
        fuzzy = tuple(p for p in _name_parts(identity.name) if len(p) >= _FUZZY_MIN_LENGTH)
        return cls(tuple(specific) + _GENERIC, len(specific), fuzzy)

    def scrub(self, text: str) -> tuple[str, Counter[str]]:
        """``text`` with each identifier replaced by ``[kind]``, and counts per kind."""
        counts: Counter[str] = Counter()
        for kind, pattern in self.patterns:
            text, n = pattern.subn(f"[{kind}]", text)
            if n:
                counts[kind] += n
        if self.fuzzy_names:
            text = _WORD.sub(lambda m: self._fuzzy(m, counts), text)
        return text, counts

    def _fuzzy(self, match: re.Match[str], counts: Counter[str]) -> str:
        token = match.group(0)
        if any(_similar(token, part) for part in self.fuzzy_names):
            counts["name"] += 1
            return "[name]"
        return token

    def own_only(self) -> Scrubber:
        """Only this study's identifiers (no generic patterns): for text such as log lines,
        where dates and long numbers are usually not about the patient."""
        return Scrubber(self.patterns[: self.specific], self.specific, self.fuzzy_names)

    def leaks(self, text: str) -> list[str]:
        """Kinds of this study's identifiers still present in ``text`` (case-insensitive)."""
        own = self.patterns[: self.specific]
        return sorted({kind for kind, pattern in own if pattern.search(text)})


def scrub_text(text: str, identity: PatientIdentity | None = None) -> str:
    """``text`` without identifiers (see :class:`Scrubber`)."""
    return Scrubber.for_identity(identity).scrub(text)[0]
