"""Split streamed answer text into sentences, so speech can start before the answer ends.

A sentence ends at ``.``, ``!``, ``?`` or a line break followed by whitespace, except after
abbreviations clinicians' text is full of ("approx.", "e.g.", "Dr.") and inside numbers
("3.5 cm"). A boundary is only decided once the next non-space character has arrived (a
period at the end of the stream so far may be a decimal point), except at :meth:`flush`.
"""

from __future__ import annotations

import re

#: Lower-case words (without the period) after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "etc",
        "vs",
        "approx",
        "ca",
        "cf",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "st",
        "no",
        "fig",
        "max",
        "min",
        "incl",
        "resp",
        "esp",
        "sag",
        "cor",
        "ax",
    }
)
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)|\n+")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
#: Sentences shorter than this are held back and joined to the next (a lone "No." is fine to
#: speak, but "1." from a numbered list is not a sentence).
MIN_CHARS = 2


class SentenceSplitter:
    """Feed text pieces with :meth:`feed`; it returns the sentences completed so far."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        """Add ``piece`` and return the sentences it completed (stripped, non-empty)."""
        self._buffer += piece
        out: list[str] = []
        start = 0
        for match in _END.finditer(self._buffer):
            end = match.end()
            candidate = self._buffer[start:end]
            if match.group().startswith(".") and self._is_abbreviation(candidate[:-1]):
                continue
            text = candidate.strip()
            if len(text) < MIN_CHARS or _is_list_number(text):
                continue
            out.append(text)
            start = end
        self._buffer = self._buffer[start:]
        return out

    def flush(self) -> list[str]:
        """The rest of the text as a last sentence (at the end of the stream)."""
        text = self._buffer.strip()
        self._buffer = ""
        return [text] if text else []

    @staticmethod
    def _is_abbreviation(before: str) -> bool:
        stripped = before.rstrip(".!?\"')]")
        word = _WORD_BEFORE.search(stripped)
        return word is not None and word.group(1).lower() in ABBREVIATIONS


def _is_list_number(text: str) -> bool:
    return bool(re.fullmatch(r"\(?\d{1,2}[.)]", text))


def split_sentences(text: str) -> list[str]:
    """All sentences of a finished text."""
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()
