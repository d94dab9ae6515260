"""The composition root's logging: rotating file, and the open study's identifiers removed."""

from __future__ import annotations

import logging
from pathlib import Path

from voxrad.assistant.privacy.gate import log_redactor
from voxrad.core.settings import load_settings
from voxrad.core.study import PatientIdentity
from voxrad.main import configure_logging


def test_open_study_identifiers_never_reach_the_log_file(voxrad_home: Path) -> None:
    log_file = configure_logging(load_settings())
    try:
        log_redactor().set_identity(
            PatientIdentity(name="QUOKKA^WILHELMINA", patient_id="MRN-558213")
        )
        logger = logging.getLogger("voxrad.test")
        logger.warning("could not read /data/Quokka_Wilhelmina/MRN-558213/img1.dcm")
        logger.info("opened study: 1 series")
        for handler in logging.getLogger("voxrad").handlers:
            handler.flush()
        text = log_file.read_text()
        assert "opened study: 1 series" in text
        assert "could not read" in text
        assert "Quokka" not in text and "Wilhelmina" not in text and "558213" not in text
    finally:
        log_redactor().set_identity(None)
        for handler in list(logging.getLogger("voxrad").handlers):
            logging.getLogger("voxrad").removeHandler(handler)
            handler.close()
