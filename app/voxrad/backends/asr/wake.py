"""Wake phrase detection by sound: what was heard at the start of an utterance, compared with
the wake phrase as phonemes, so "Mark rad", "Moxlad" and "Vox Rad" all count as "VoxRad".

A general recogniser rarely spells an invented word: tiny.en wrote "VoxRad" as "Mark rad",
"Moxlad", "Voxlad" and "Mossad". Compared as letters those are far apart; as sounds (espeak-ng's
phonemes, the same engine VoxRad already uses for test speech) they are one consonant or vowel
away. The comparison is a weighted edit distance over phonemes in which near sounds (voiced and
voiceless pairs, the nasal and labial consonants, neighbouring vowels) cost less than unrelated
ones. Where espeak-ng is missing, a letter-to-sound approximation stands in (English spelling
rules that matter here: ``x`` is ``ks``, ``c`` before ``e/i/y`` is ``s``, ``ph`` is ``f``, ...).

Only the first words are compared, at most the phrase's own word count plus two, and a candidate
whose length is far from the phrase's is never a match: room talk that merely contains a similar
word later in the sentence does not wake VoxRad. Calls take about 15 ms (one espeak-ng process
for all candidates; the phrase is phonemised once).
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Sensitivity 0..1 maps to the similarity a candidate needs: 0.5 -> 0.73.
_THRESHOLD_AT_ZERO = 0.88
_THRESHOLD_SPAN = 0.30
#: A candidate that runs across a clause break ("Max, raise") is less likely the phrase.
_ACROSS_CLAUSE_PENALTY = 0.1
_CLAUSE = re.compile(r"[,.;:!?]")

# espeak-ng's ASCII phoneme mnemonics (-x): multi-character phonemes first.
_MULTI = sorted(
    [
        "A@",
        "A:",
        "aI",
        "aU",
        "eI",
        "oU",
        "OI",
        "i@",
        "e@",
        "U@",
        "O@",
        "o@",
        "3:",
        "i:",
        "u:",
        "O:",
        "@2",
        "@5",
        "@L",
        "tS",
        "dZ",
        "aI@",
        "aU@",
        "I2",
        "I#",
        "e#",
        "a#",
        "0#",
    ],
    key=len,
    reverse=True,
)
_WORD = re.compile(r"[A-Za-z0-9']+")
_STRESS = re.compile(r"[',%=_|]")
_VOWELS = frozenset("aeiouAEIOUV0@3")
# Sounds that recognisers confuse with each other: substitution costs 0.3 to 0.5, not 1.
_NEAR: tuple[tuple[frozenset[str], float], ...] = (
    (frozenset({"b", "p"}), 0.3),
    (frozenset({"d", "t"}), 0.3),
    (frozenset({"g", "k"}), 0.3),
    (frozenset({"v", "f"}), 0.3),
    (frozenset({"s", "z"}), 0.3),
    (frozenset({"S", "Z", "tS", "dZ"}), 0.4),
    (frozenset({"T", "D"}), 0.3),
    (frozenset({"m", "n", "N"}), 0.4),
    (frozenset({"v", "b", "m", "w", "f"}), 0.5),
    (frozenset({"r", "l", "w"}), 0.45),
    (frozenset({"d", "D", "t", "T"}), 0.5),
)


def _is_vowel(ph: str) -> bool:
    return ph[0] in _VOWELS


def _substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if _is_vowel(a) and _is_vowel(b):
        return 0.3  # vowels drift most between accents and recognisers
    if _is_vowel(a) != _is_vowel(b):
        return 1.0
    for group, cost in _NEAR:
        if a in group and b in group:
            return cost
    return 1.0


def _indel_cost(ph: str) -> float:
    # A dropped vowel or /s/, /r/, /h/ is the commonest slip ("Mark rad" lost the /s/).
    return 0.6 if _is_vowel(ph) or ph in {"s", "r", "h", "z"} else 0.8


def phoneme_similarity(heard: Sequence[str], wanted: Sequence[str]) -> float:
    """1 - weighted edit distance / phrase length, in [0, 1]."""
    if not wanted:
        return 1.0 if not heard else 0.0
    prev = [0.0]
    for ph in heard:
        prev.append(prev[-1] + _indel_cost(ph))
    for w in wanted:
        cur = [prev[0] + _indel_cost(w)]
        for j, h in enumerate(heard, start=1):
            cur.append(
                min(
                    prev[j] + _indel_cost(w),
                    cur[j - 1] + _indel_cost(h),
                    prev[j - 1] + _substitution_cost(w, h),
                )
            )
        prev = cur
    return max(0.0, 1.0 - prev[-1] / len(wanted))


def split_phonemes(mnemonics: str) -> list[str]:
    """espeak-ng ``-x`` output ("v'0ks r'ad") as a list of phonemes, stress and spaces dropped."""
    text = _STRESS.sub("", mnemonics.replace(" ", "").replace("-", ""))
    out: list[str] = []
    i = 0
    while i < len(text):
        for multi in _MULTI:
            if text.startswith(multi, i):
                out.append(multi)
                i += len(multi)
                break
        else:
            if text[i].isalpha() or text[i] in "@03":
                out.append(text[i])
            i += 1
    return out


_LETTER_RULES: tuple[tuple[str, str], ...] = (
    ("tch", "tS"),
    ("sch", "sk"),
    ("ph", "f"),
    ("ck", "k"),
    ("qu", "kw"),
    ("sh", "S"),
    ("ch", "tS"),
    ("th", "T"),
    ("wh", "w"),
    ("kn", "n"),
    ("wr", "r"),
    ("gh", ""),
    ("ng", "N"),
    ("x", "ks"),
    ("q", "k"),
    ("y", "i"),
    ("j", "dZ"),
)


def letter_phonemes(text: str) -> list[str]:
    """A letter-to-sound approximation for when espeak-ng is not installed."""
    word = re.sub(r"[^a-z]", "", text.lower())
    word = re.sub(r"c(?=[eiy])", "s", word).replace("c", "k")
    for letters, sound in _LETTER_RULES:
        word = word.replace(letters, f"<{sound}>" if sound else "")
    out: list[str] = []
    for part in re.findall(r"<[^>]*>|.", word):
        sound = part.strip("<>")
        if not sound:
            continue
        if part.startswith("<"):
            out.extend(split_phonemes(sound))
        elif out and out[-1] == sound:  # doubled letters are one sound
            continue
        else:
            out.append("0" if sound == "o" else sound)
    return out


class Phonemizer:
    """Text to phonemes with espeak-ng, else by letter rules.

    Words are phonemised one per clause (``a, b, c``: espeak-ng writes one line per clause), in
    one process for the whole batch, and cached: the phrase and common words cost nothing on
    the next utterance.
    """

    def __init__(self, voice: str = "en-us") -> None:
        self.voice = voice
        self.binary = shutil.which("espeak-ng")
        self._cache: dict[str, list[str]] = {}

    @property
    def source(self) -> str:
        return "espeak-ng" if self.binary else "letter rules"

    def __call__(self, texts: Sequence[str]) -> list[list[str]]:
        split = [[w.lower() for w in _WORD.findall(t)] for t in texts]
        missing = [w for w in dict.fromkeys(w for ws in split for w in ws) if w not in self._cache]
        if missing:
            self._cache.update(zip(missing, self._words(missing), strict=True))
            if len(self._cache) > 4096:  # bounded: room talk brings new words forever
                self._cache = dict(list(self._cache.items())[-2048:])
        return [[ph for w in words for ph in self._cache.get(w, [])] for words in split]

    def _words(self, words: list[str]) -> list[list[str]]:
        if self.binary is not None:
            try:
                lines = self._espeak(", ".join(words))
                if len(lines) != len(words):  # a word espeak split or merged: one at a time
                    lines = [" ".join(self._espeak(w)) for w in words]
                return [split_phonemes(line) for line in lines]
            except (OSError, subprocess.SubprocessError) as exc:
                logger.warning("espeak-ng failed (%s); wake phrase by letter rules", exc)
        return [letter_phonemes(w) for w in words]

    def _espeak(self, text: str) -> list[str]:
        assert self.binary is not None
        done = subprocess.run(
            [self.binary, "-q", "-x", "-v", self.voice, "--stdin"],
            input=text,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return [line for line in done.stdout.splitlines() if line.strip()]


@dataclass(frozen=True)
class WakeMatch:
    """The decision for one utterance: whether it woke VoxRad and what followed the phrase."""

    woke: bool
    #: What followed the phrase (the request); the whole text when it did not wake.
    rest: str
    #: The words taken as the phrase ("Mark rad"), empty when it did not wake.
    heard: str
    score: float

    def to_dict(self) -> dict[str, object]:
        return {"woke": self.woke, "rest": self.rest, "heard": self.heard, "score": self.score}


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


class WakeDetector:
    """Decides whether an utterance starts with the wake phrase (or an accepted variant).

    Parameters
    ----------
    phrase
        The wake phrase ("VoxRad").
    variants
        Other spellings or phrases accepted as the same ("Vox Rad", "hey VoxRad").
    sensitivity
        0 (strict) to 1 (lenient); 0.5 needs a phoneme similarity of 0.73.
    phonemizer
        Text to phonemes; espeak-ng by default.
    """

    def __init__(
        self,
        phrase: str,
        *,
        variants: Sequence[str] = (),
        sensitivity: float = 0.5,
        phonemizer: Phonemizer | None = None,
    ) -> None:
        self.phrase = phrase.strip()
        self.phonemizer = phonemizer or Phonemizer()
        self.threshold = _THRESHOLD_AT_ZERO - _THRESHOLD_SPAN * min(1.0, max(0.0, sensitivity))
        targets = [t for t in dict.fromkeys([self.phrase, *variants]) if t.strip()]
        self._targets = list(zip(targets, self.phonemizer(targets), strict=True))
        self._max_words = max((len(_WORD.findall(t)) for t in targets), default=1) + 2

    def match(self, text: str) -> WakeMatch:
        """Whether ``text`` starts with the phrase; never raises."""
        stripped = text.strip()
        if not self._targets:
            return WakeMatch(True, stripped, "", 1.0)
        spans = [m.span() for m in _WORD.finditer(stripped)][: self._max_words]
        if not spans:
            return WakeMatch(False, stripped, "", 0.0)
        candidates = [stripped[:end] for _, end in spans]
        sounds = self.phonemizer(candidates)
        best = (0.0, -1)
        for index, (candidate, heard) in enumerate(zip(candidates, sounds, strict=True)):
            for target, wanted in self._targets:
                score = _letter_score(candidate, target)
                if wanted and 0.6 <= len(heard) / len(wanted) <= 1.6:
                    sound = phoneme_similarity(heard, wanted)
                    if _CLAUSE.search(candidate) and not _CLAUSE.search(target):
                        sound -= _ACROSS_CLAUSE_PENALTY
                    score = max(score, sound)
                if score > best[0]:
                    best = (score, index)
        score, index = best
        if index < 0 or score < self.threshold:
            return WakeMatch(False, stripped, "", round(score, 3))
        end = spans[index][1]
        rest = stripped[end:].lstrip(" ,.;:!?-").strip()
        return WakeMatch(True, rest, stripped[:end], round(score, 3))


def _letter_score(candidate: str, target: str) -> float:
    a, b = _letters(candidate), _letters(target)
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b).ratio() if a[0] == b[0] else 0.0


@functools.lru_cache(maxsize=8)
def detector(phrase: str, variants: tuple[str, ...] = (), sensitivity: float = 0.5) -> WakeDetector:
    """A shared detector per setting (the phrase's phonemes are computed once)."""
    return WakeDetector(phrase, variants=variants, sensitivity=sensitivity)
