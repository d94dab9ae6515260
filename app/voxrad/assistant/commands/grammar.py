"""Voice command grammar: an utterance becomes a viewer :class:`Command` or a model question.

Rules, chosen so that a wrong action is rarer than a question sent to the model:

* A command must match the **whole** utterance once fillers ("um", "please", "can you") and
  politeness are removed. "Next slice" is a command; "what about the next slice?" is not, and
  goes to the model as a question.
* ASR variants are tolerated: number words ("scroll down twenty one"), homophones in number
  slots ("finding to" -> 2), known mishearings ("long window", "coronel"), and long words within
  a small edit distance of a grammar keyword.
* Users add synonyms in settings (``commands.synonyms``): phrase -> canonical phrase, applied
  before matching.

Pure and Qt-free: the pipeline calls :meth:`CommandGrammar.parse` on each transcript.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voxrad.assistant.commands.rules import (
    ANYWHERE,
    COMPILED,
    KEYWORDS,
    LEADING_FILLERS,
    TRAILING_FILLERS,
    Action,
    Arg,
)
from voxrad.assistant.commands.textnorm import fuzzy_correct, normalize

__all__ = [
    "Action",
    "Command",
    "CommandGrammar",
    "ModelQuestion",
    "parse_utterance",
    "split_wake_phrase",
]


@dataclass(frozen=True)
class Command:
    """A viewer action with its arguments, e.g. ``Command(Action.NEXT_SLICE, (("count", 5),))``.

    ``args`` is a tuple of (name, value) pairs so the command is hashable; use :meth:`arg`.
    ``heard`` is the transcript it came from (for the conversation panel, never for logs).
    """

    action: Action
    args: tuple[tuple[str, Arg], ...] = ()
    heard: str = field(default="", compare=False)

    def arg(self, name: str, default: Arg | None = None) -> Arg | None:
        """The argument called ``name``, or ``default``."""
        return next((v for k, v in self.args if k == name), default)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "command", "action": str(self.action), "args": dict(self.args)}


@dataclass(frozen=True)
class ModelQuestion:
    """An utterance that is not a command: the model answers it. ``text`` is as heard.

    The pipeline turns it into a :class:`voxrad.core.conversation.Question` by adding the
    slice, region and window the clinician is looking at.
    """

    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "question", "text": self.text}


class CommandGrammar:
    """Parses transcripts into :class:`Command` or :class:`ModelQuestion`.

    Parameters
    ----------
    synonyms
        User phrases mapped to canonical phrases, e.g. ``{"chest please": "lung window"}``.
        Matched on normalised text at word boundaries, longest phrase first.
    """

    def __init__(self, synonyms: Mapping[str, str] | None = None) -> None:
        pairs = [(normalize(k), normalize(v)) for k, v in (synonyms or {}).items() if k.strip()]
        pairs.sort(key=lambda kv: len(kv[0]), reverse=True)
        self._synonyms = [(re.compile(rf"(?<!\S){re.escape(k)}(?!\S)"), v) for k, v in pairs]

    def parse(self, text: str) -> Command | ModelQuestion | None:
        """The command that ``text`` asks for, or a question for the model.

        Returns None when nothing remains after removing fillers ("um", "okay"): the pipeline
        ignores such utterances instead of asking the model about them.
        """
        core = self.canonical(text)
        if not core:
            return None
        for candidate in (core, " ".join(fuzzy_correct(core.split(), set(KEYWORDS)))):
            for pattern, action, build in COMPILED:
                match = pattern.fullmatch(candidate)
                if match:
                    return Command(action, build(match), heard=text.strip())
        return ModelQuestion(text.strip())

    def canonical(self, text: str) -> str:
        """``text`` normalised, synonyms applied and fillers removed (what the rules see)."""
        s = normalize(text)
        for pattern, replacement in self._synonyms:
            s = pattern.sub(replacement, s)
        tokens = [t for t in s.split() if t not in ANYWHERE]
        return " ".join(_strip_edges(tokens))


def _strip_edges(tokens: list[str]) -> list[str]:
    lead = [f.split() for f in LEADING_FILLERS]
    trail = [f.split() for f in TRAILING_FILLERS]
    changed = True
    while changed and tokens:
        changed = False
        for words in lead:
            if tokens[: len(words)] == words:
                tokens = tokens[len(words) :]
                changed = True
                break
        for words in trail:
            if len(tokens) > len(words) and tokens[-len(words) :] == words:
                tokens = tokens[: -len(words)]
                changed = True
                break
    return tokens


_DEFAULT = CommandGrammar()


def parse_utterance(
    text: str, synonyms: Mapping[str, str] | None = None
) -> Command | ModelQuestion | None:
    """Parse one transcript with the built-in grammar plus optional user ``synonyms``."""
    grammar = CommandGrammar(synonyms) if synonyms else _DEFAULT
    return grammar.parse(text)


def split_wake_phrase(
    text: str, phrase: str, *, variants: Sequence[str] = (), sensitivity: float = 0.5
) -> str | None:
    """What follows the wake phrase at the start of ``text``, or None when it is absent.

    The first words are compared with the phrase by sound (:mod:`voxrad.backends.asr.wake`),
    because a recogniser writes an invented word many ways ("Vox Rad", "Mark rad", "Moxlad").

    Examples
    --------
    >>> split_wake_phrase("Vox Rad, next slice.", "VoxRad")
    'next slice.'
    >>> split_wake_phrase("next slice", "VoxRad") is None
    True
    """
    from voxrad.backends.asr.wake import detector

    if not phrase.strip():
        return text.strip()
    match = detector(phrase.strip(), tuple(variants), sensitivity).match(text)
    return match.rest if match.woke else None
