"""The panel and the export (and speech) call the same confidence by the same word.

The panel writes :func:`voxrad.ui.turn_widget.confidence_text`; ``voxrad export`` and the
spoken low-confidence prefix use :func:`voxrad.assistant.checks.safety.confidence_display`.
Both read the one vocabulary in :mod:`voxrad.assistant.checks.confidence`.
"""

from __future__ import annotations

import pytest

from voxrad.assistant.checks.confidence import HIGH_CONFIDENCE, LOW_CONFIDENCE
from voxrad.assistant.checks.safety import confidence_display
from voxrad.ui.turn_widget import confidence_text


@pytest.mark.parametrize(
    ("confidence", "word"),
    [
        (0.77, "high"),  # between the two cut-offs the old copies used (0.75 and 0.8)
        (HIGH_CONFIDENCE, "high"),
        (HIGH_CONFIDENCE - 0.001, "moderate"),
        (0.79, "high"),
        (LOW_CONFIDENCE, "moderate"),
        (LOW_CONFIDENCE - 0.001, "low"),
    ],
)
def test_panel_and_export_use_the_same_confidence_word(confidence: float, word: str) -> None:
    exported = confidence_display(confidence)
    panel = confidence_text(confidence)
    assert exported.level == word
    assert panel.lower().startswith(f"{word} confidence")
    assert exported.words.lower().startswith(f"{word} confidence")
