"""Scripted answerers and a scripted clock for the evaluation tests (fakes live in tests/ only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voxrad.core.conversation import Answer, Box, Finding


@dataclass
class FakeClock:
    """Time moves only when a fake answerer says a question took that long."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Scripted:
    text: str
    confidence: float | None = None
    latency: float = 1.0
    boxes: tuple[tuple[Box, float | None], ...] = ()


@dataclass
class FakeAnswerer:
    """Answers each question text from a script; blank (all-zero) images use ``blank``.

    ``key`` picks the script entry (default: the question text; grounding tests, whose
    questions repeat across images, key by the pixels). ``interrupt_after`` raises
    KeyboardInterrupt on that call (1-based), as Ctrl-C would; ``fail_on`` raises
    RuntimeError (a crash) on that call.
    """

    script: dict[str, Scripted]
    blank: Scripted | None = None
    clock: FakeClock = field(default_factory=FakeClock)
    name: str = "fake-model"
    interrupt_after: int | None = None
    fail_on: int | None = None
    calls: list[tuple[str, bool, tuple[int, ...]]] = field(default_factory=list)
    closed: bool = False
    key: Callable[[str, np.ndarray], str] = lambda question, image: question

    def answer(self, question: str, image: np.ndarray, *, region: Box | None = None) -> Answer:
        n = len(self.calls) + 1
        if self.interrupt_after is not None and n == self.interrupt_after:
            raise KeyboardInterrupt
        if self.fail_on is not None and n == self.fail_on:
            raise RuntimeError("simulated crash")
        is_blank = not image.any()
        self.calls.append((question, is_blank, image.shape))
        entry = (
            self.blank
            if is_blank and self.blank is not None
            else self.script[self.key(question, image)]
        )
        self.clock.now += entry.latency
        findings = tuple(Finding("finding", box, conf) for box, conf in entry.boxes)
        source = "none" if entry.confidence is None else "logprobs"
        return Answer(
            answer=entry.text,
            findings=findings,
            confidence=entry.confidence,
            confidence_source=source,
            model=self.name,
        )

    def close(self) -> None:
        self.closed = True
