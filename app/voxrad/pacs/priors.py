"""Earlier studies of a patient on the PACS: a :class:`~voxrad.core.priors.PriorSource` over
any :class:`~voxrad.pacs.base.PacsClient` (DIMSE or DICOMweb).

The search is a study-level find by PatientID and IssuerOfPatientID. The PACS's matching is
not trusted for identity: a patient ID with ``*`` or ``?`` is a wildcard to C-FIND, and some
servers ignore the issuer, so every answer is checked here against the exact key and the rest
dropped. Body parts are series-level in DICOM: they are asked per study only for studies that
share a modality with the open one (the ones that can be the default prior).
"""

from __future__ import annotations

import logging

from voxrad.core.priors import PatientKey, StudyRef
from voxrad.pacs.base import PacsClient, StudyMatch, StudyQuery

logger = logging.getLogger(__name__)


class PacsPriors:
    """Studies of a patient on one PACS node.

    ``modalities``: the open study's; studies sharing one get their series' body parts (one
    series query each). ``limit`` bounds the study search.
    """

    def __init__(
        self,
        client: PacsClient,
        node_name: str,
        *,
        modalities: tuple[str, ...] = (),
        limit: int = 100,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.modalities = modalities
        self.limit = limit
        self.name = f"the PACS node '{node_name}'"

    def studies_of(self, patient: PatientKey) -> list[StudyRef]:
        """Studies whose PatientID and IssuerOfPatientID equal ``patient``'s exactly. Raises
        the client's :class:`~voxrad.core.errors.PacsError` when the PACS cannot be asked."""
        if not patient.patient_id:
            return []
        query = StudyQuery(
            patient_id=patient.patient_id,
            issuer_of_patient_id=patient.issuer,
            limit=self.limit,
        )
        matches = self.client.find_studies(query)
        kept = [m for m in matches if patient.matches(_key(m))]
        if len(kept) < len(matches):
            logger.info(
                "PACS prior search: %d of %d answers dropped (patient ID or issuer not exact)",
                len(matches) - len(kept),
                len(matches),
            )
        return [self._ref(m) for m in kept]

    def _ref(self, match: StudyMatch) -> StudyRef:
        body_parts: tuple[str, ...] = ()
        if set(match.modalities) & set(self.modalities):
            series = self.client.find_series(match.study_uid)
            body_parts = tuple(dict.fromkeys(s.body_part for s in series if s.body_part))
        return StudyRef(
            study_uid=match.study_uid,
            patient=_key(match),
            source="pacs",
            date=match.date,
            time=match.time,
            modalities=match.modalities,
            body_parts=body_parts,
            description=match.description,
            location=self.node_name,
            series_count=match.series_count or 0,
        )


def _key(match: StudyMatch) -> PatientKey:
    return PatientKey(match.patient_id, match.issuer_of_patient_id)
