"""The HTML study report: key images with boxes, Q&A, model, disclaimer; de-identified."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from study_support import CANARIES, write_ct

from voxrad.assistant.checks.safety import check_answer, confidence_display, with_safety
from voxrad.assistant.privacy.gate import Scrubber
from voxrad.core.conversation import Answer, Box, Finding
from voxrad.imaging.registry import open_study
from voxrad.records.keyimage import BOX_COLOR, FLAGGED_COLOR, slice_rgb
from voxrad.records.report import DISCLAIMER, ReportTurn, study_report_html


def test_report_is_deidentified_and_complete(tmp_path: Path, artifacts_dir: Path) -> None:
    write_ct(tmp_path / "ct")
    study = open_study(tmp_path / "ct")
    volume = study.find().load_volume()
    scrub = Scrubber.for_identity(study.identity)
    box = Box(8, 10, 20, 30)  # image left: the patient's right on this axial CT
    answer = Answer(
        "Wilhelmina Quokka (ZX-99173) has a nodule in the left lung. <script>x</script>",
        reasoning="Seen at Saint Bartleby Canary Infirmary before.",
        findings=(Finding("left nodule", box, 0.3, 2),),
        confidence=0.3,
        model="medgemma-1.5-4b-it",
    )
    report = check_answer(answer, volume, sent_slices={2})
    answer = with_safety(answer, report)
    shown = confidence_display(answer.confidence)
    text = study_report_html(
        [
            ReportTurn(
                "Quokka, MRN ZX 99173, accession ACC55821X: is there a nodule?",
                answer,
                slice_rgb(volume, 2),
                shown.words,
                shown.color,
                frozenset(f.finding for f in report.flags),
                image_slice=2,
            )
        ],
        text_filter=lambda s: scrub.scrub(s)[0],
        model="medgemma-1.5-4b-it",
        model_sha256="ab" * 32,
        backend="llama-cpp",
    )
    (artifacts_dir / "study-report.html").write_text(text, encoding="utf-8")
    low = text.lower()
    assert [c for c in CANARIES if c in low] == []
    assert DISCLAIMER in text and text.count("not a diagnosis") >= 2
    assert "medgemma-1.5-4b-it" in text and "llama-cpp" in text
    assert "is there a nodule?" in text and "nodule in the left lung" in text
    assert "<script>" not in text  # answers are escaped
    assert "Low confidence (30%)" in text and "#C62828" in text
    assert "Side mismatch" in text  # the safety warning is in the record

    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    png = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
    assert png.shape == (48, 48, 3)
    # The flagged finding's box is drawn in the flagged colour just outside the box.
    assert tuple(png[9, 14]) == FLAGGED_COLOR
    assert tuple(png[9, 14]) != BOX_COLOR
