"""The speakable answer text inside a model's token stream, as it arrives.

A reply holds reasoning (``<think>...</think>`` or text before ``Final Answer:``), the answer,
then boxes (a JSON block, ``<ref>``/``<box>`` or ``<loc_N>`` tags) and a confidence line.
Only the answer may be spoken early. The rule is conservative, because reading reasoning or
coordinates aloud to a clinician is worse than starting to speak a second later:

* for a family that reasons, nothing passes until the reasoning has visibly ended (the same
  markers :func:`voxrad.assistant.reply.statements.split_reasoning` uses);
* the answer stops at the first character that can start box syntax or markup
  (`` ` < [ { | ``) or at "Confidence"; nothing after that is streamed.

What was not streamed is spoken from the parsed answer when it is complete (the pipeline
reconciles the two, see :mod:`voxrad.assistant.loop.question_run`).
"""

from __future__ import annotations

import re

from voxrad.assistant.reply.statements import split_reasoning
from voxrad.core.families import require_family

_STOP = re.compile(r"[`<\[{|]|\bconfidence\b", re.IGNORECASE)


class AnswerTextFilter:
    """Feed raw model text with :meth:`feed`; get back the new speakable answer text."""

    def __init__(self, family: str) -> None:
        self._reasons = require_family(family).reasons
        self._raw = ""
        #: Where the answer starts in the raw text (fixed once found) and how far it was sent.
        self._start: int | None = None if self._reasons else 0
        self._sent = 0
        self._closed = False

    def feed(self, piece: str) -> str:
        """Add ``piece``; return answer text not returned before ("" while none is safe)."""
        if self._closed:
            return ""
        self._raw += piece
        if self._start is None:
            split = split_reasoning(self._raw)
            if not split.marker or split.truncated:
                return ""
            self._start = split.answer_start
        start = self._start
        stripped = self._raw[start:].lstrip()
        if not stripped:
            return ""
        begin = len(self._raw) - len(stripped)
        end = len(self._raw)
        stop = _STOP.search(self._raw, begin)
        if stop is not None:
            end = stop.start()
            self._closed = True
        new = self._raw[max(begin, self._sent) : end]
        self._sent = max(self._sent, end)
        return new
