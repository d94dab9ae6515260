"""DIMSE client (C-ECHO, C-FIND, C-GET or C-MOVE with VoxRad's own storage handling, C-STORE)
on pynetdicom.

C-GET (the default) brings the images back over the association VoxRad opened, so no port has
to be opened on the workstation; C-MOVE, for PACS that do not offer C-GET, runs a storage SCP
on the node's ``listen_port`` for the length of the retrieve. Each image arrives in
the storage handler on pynetdicom's association thread and goes straight to
:meth:`~voxrad.pacs.run.RetrieveRun.accept`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voxrad.core.errors import (
    DependencyMissingError,
    PacsAssociationRejectedError,
    PacsConnectionLostError,
    PacsError,
    PacsUnreachableError,
    StudyGoneError,
)
from voxrad.core.settings import PacsNode
from voxrad.pacs.base import (
    CancelToken,
    ProgressCallback,
    RetrieveResult,
    SeriesMatch,
    StoreOutcome,
    StudyMatch,
    StudyQuery,
)
from voxrad.pacs.run import RetrieveRun

if TYPE_CHECKING:
    from pydicom import Dataset
    from pynetdicom.association import Association

logger = logging.getLogger(__name__)

#: SOP classes by UID (pynetdicom's named constants are generated at run time, unseen by mypy).
VERIFICATION = "1.2.840.10008.1.1"
FIND_MODEL = "1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Query/Retrieve - FIND
GET_MODEL = "1.2.840.10008.5.1.4.1.2.2.3"  # Study Root Query/Retrieve - GET
MOVE_MODEL = "1.2.840.10008.5.1.4.1.2.2.2"  # Study Root Query/Retrieve - MOVE

_PENDING = (0xFF00, 0xFF01)
_SUCCESS_OR_WARNING = (0x0000, 0xB000, 0xB006, 0xB007)

_UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")

#: Transfer syntaxes VoxRad accepts images in: the readers decode all of them.
_STORAGE_SYNTAXES = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",  # RLE Lossless
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
)


def _ident(level: str, **keys: Any) -> Dataset:
    from pydicom import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for name, value in keys.items():
        setattr(ds, name, value)
    return ds


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class DimsePacs:
    """A :class:`~voxrad.pacs.base.PacsClient` speaking DIMSE to ``host:port``."""

    def __init__(self, node: PacsNode) -> None:
        if not node.host:
            raise PacsError(
                f"PACS node '{node.name}' has no host for DIMSE.",
                hint="Set its host, port and called AE title in settings.",
            )
        self.node = node
        #: The last failure status of a C-GET/C-MOVE request in the current retrieve.
        self._last_failure: int | None = None

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        n = self.node
        return f"PACS node '{n.name}' ({n.host}:{n.port}, AE {n.called_ae})"

    def _ae(self) -> Any:
        try:
            from pynetdicom import AE
        except ImportError as exc:
            raise DependencyMissingError("DIMSE support (pynetdicom)", "pacs") from exc
        ae = AE(ae_title=self.node.calling_ae)
        ae.acse_timeout = self.node.timeout_s
        ae.dimse_timeout = self.node.timeout_s
        ae.network_timeout = self.node.timeout_s
        ae.connection_timeout = min(10.0, self.node.timeout_s)
        return ae

    def _tls_args(self) -> tuple[Any, str] | None:
        if not self.node.tls:
            return None
        import ssl

        context = ssl.create_default_context(cafile=self.node.ca_file or None)
        if not self.node.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context, self.node.host

    def _probe(self) -> None:
        """Raise :class:`PacsUnreachableError` when nothing listens at host:port."""
        try:
            with socket.create_connection(
                (self.node.host, self.node.port), timeout=min(10.0, self.node.timeout_s)
            ):
                pass
        except OSError as exc:
            raise PacsUnreachableError(f"{self._where} did not answer.") from exc

    @contextmanager
    def _association(
        self, ae: Any, *, ext_neg: list[Any] | None = None, handlers: list[Any] | None = None
    ) -> Iterator[Association]:
        # Connect once first: pynetdicom leaks its socket when a connection is refused, and
        # "nothing listens here" deserves its own message.
        self._probe()
        for attempt in (1, 2):
            assoc = ae.associate(
                self.node.host,
                self.node.port,
                ae_title=self.node.called_ae,
                ext_neg=ext_neg,
                evt_handlers=handlers,
                tls_args=self._tls_args(),
            )
            if assoc.is_established or assoc.is_rejected:
                break
            # A PACS that rejects and closes at once can be seen as a plain close (Orthanc's
            # rejection got lost about 1 in 40 times here, right after the probe): ask once
            # more before calling it a close.
            logger.info("association attempt %d: closed without an answer", attempt)
        if assoc.is_rejected:
            raise PacsAssociationRejectedError(
                f"{self._where} refused the association from calling AE "
                f"'{self.node.calling_ae}' (wrong called AE title, or this workstation is not "
                "registered on the PACS)."
            )
        if not assoc.is_established:
            raise PacsError(
                f"{self._where} closed the connection before a DICOM association was made.",
                hint="Check that host:port is the PACS's DICOM port (not its web port), the "
                "called and calling AE titles, and whether it requires TLS.",
            )
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _lost(self, assoc: Association, what: str) -> PacsConnectionLostError:
        return PacsConnectionLostError(
            f"The association with {self._where} ended during the {what}"
            + (" (aborted)." if assoc.is_aborted else ".")
        )

    def _find(self, ident: Dataset, what: str) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(FIND_MODEL)
        found: list[Dataset] = []
        with self._association(ae) as assoc:
            for status, identifier in assoc.send_c_find(ident, FIND_MODEL):
                if not status:
                    raise self._lost(assoc, what)
                code = int(status.Status)
                if code in _PENDING and identifier is not None:
                    found.append(identifier)
                elif code == 0x0000:
                    break
                elif code not in _PENDING:
                    raise PacsError(
                        f"{self._where} refused the {what} (status 0x{code:04X}).",
                        hint="The PACS may not allow queries from this AE title: ask its "
                        "administrator.",
                    )
        return found

    # -- PacsClient -----------------------------------------------------------------------------
    def echo(self) -> float:
        ae = self._ae()
        ae.add_requested_context(VERIFICATION)
        start = time.perf_counter()
        with self._association(ae) as assoc:
            status = assoc.send_c_echo()
            if not status:
                raise self._lost(assoc, "echo")
            if int(status.Status) != 0x0000:
                raise PacsError(f"{self._where} answered the echo with 0x{status.Status:04X}.")
        return time.perf_counter() - start

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        ident = _ident(
            "STUDY",
            StudyInstanceUID="",
            StudyDate=query.date_range,
            StudyDescription="",
            ModalitiesInStudy=query.modality,
            AccessionNumber=query.accession,
            PatientID=query.patient_id,
            IssuerOfPatientID=query.issuer_of_patient_id,
            PatientName=query.patient_name,
            StudyTime="",
            NumberOfStudyRelatedSeries="",
            NumberOfStudyRelatedInstances="",
        )
        rows = self._find(ident, "study search")[: query.limit]
        out = []
        for r in rows:
            modalities = r.get("ModalitiesInStudy", "")
            if isinstance(modalities, str):
                modalities = [m for m in modalities.split("\\") if m]
            out.append(
                StudyMatch(
                    study_uid=str(r.get("StudyInstanceUID", "")),
                    date=str(r.get("StudyDate", "")),
                    modalities=tuple(str(m) for m in modalities),
                    description=str(r.get("StudyDescription", "")),
                    accession=str(r.get("AccessionNumber", "")),
                    patient_id=str(r.get("PatientID", "")),
                    patient_name=str(r.get("PatientName", "")),
                    series_count=_int(r.get("NumberOfStudyRelatedSeries")),
                    instance_count=_int(r.get("NumberOfStudyRelatedInstances")),
                    issuer_of_patient_id=str(r.get("IssuerOfPatientID", "") or ""),
                    time=str(r.get("StudyTime", "") or ""),
                )
            )
        return out

    def find_series(self, study_uid: str) -> list[SeriesMatch]:
        ident = _ident(
            "SERIES",
            StudyInstanceUID=study_uid,
            SeriesInstanceUID="",
            Modality="",
            SeriesDescription="",
            SeriesNumber="",
            NumberOfSeriesRelatedInstances="",
            BodyPartExamined="",
        )
        return [
            SeriesMatch(
                series_uid=str(r.get("SeriesInstanceUID", "")),
                modality=str(r.get("Modality", "")),
                description=str(r.get("SeriesDescription", "")),
                number=_int(r.get("SeriesNumber")),
                instance_count=_int(r.get("NumberOfSeriesRelatedInstances")),
                body_part=str(r.get("BodyPartExamined", "") or ""),
            )
            for r in self._find(ident, "series search")
        ]

    def _instances(self, study_uid: str, series_uids: Sequence[str]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for series in series_uids:
            ident = _ident(
                "IMAGE", StudyInstanceUID=study_uid, SeriesInstanceUID=series, SOPInstanceUID=""
            )
            pairs += [(series, str(r.SOPInstanceUID)) for r in self._find(ident, "image listing")]
        return pairs

    def retrieve(
        self,
        study_uid: str,
        series_uid: str | None,
        dest: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrieveResult:
        series_uids = (
            [series_uid] if series_uid else [s.series_uid for s in self.find_series(study_uid)]
        )
        expected = self._instances(study_uid, series_uids)
        if not expected:
            raise StudyGoneError(
                f"{self._where} has no images for this {'series' if series_uid else 'study'}.",
                hint="Search again: the UID may be wrong or the study deleted.",
            )
        run = RetrieveRun(
            dest,
            node=self.node.name,
            study_uid=study_uid,
            series_uid=series_uid,
            expected=expected,
            progress=progress,
            cancel=cancel,
        )
        if not run.missing:
            return run.finish()

        def on_store(event: Any) -> int:
            if run.cancelled:
                # Refused; the association is aborted at the PACS's next response.
                return 0xA700
            try:
                ds = event.dataset
                ds.file_meta = event.file_meta
            except Exception:
                run.fail("", "the PACS sent data that is not a valid DICOM image")
                return 0xC210
            return 0x0000 if run.accept(ds) is None else 0xC211

        missing_by_series: dict[str, list[str]] = {}
        for series, sop in run.missing:
            missing_by_series.setdefault(series, []).append(sop)
        listed = Counter(series for series, _sop in expected)
        idents: list[Dataset] = []
        for series, sops in missing_by_series.items():
            if len(sops) < listed[series]:  # resume: ask only for what is missing
                idents += [
                    _ident(
                        "IMAGE",
                        StudyInstanceUID=study_uid,
                        SeriesInstanceUID=series,
                        SOPInstanceUID=sop,
                    )
                    for sop in sops
                ]
            else:
                idents.append(
                    _ident("SERIES", StudyInstanceUID=study_uid, SeriesInstanceUID=series)
                )
        self._last_failure = None
        try:
            if self.node.retrieve_method == "move":
                self._move(idents, run, on_store)
            else:
                self._get(idents, run, on_store)
        except PacsError:
            run.interrupted()
            raise
        run.check_cancel()
        if self._last_failure is not None and self.node.retrieve_method == "move":
            return run.finish(
                f"the PACS did not send this image (C-MOVE status 0x{self._last_failure:04X}): "
                f"check that it has AE title '{self.node.calling_ae}' registered with this "
                f"workstation's address and port {self.node.listen_port}"
            )
        if self._last_failure is not None:
            return run.finish(
                f"the PACS did not send this image (C-GET status 0x{self._last_failure:04X})"
            )
        return run.finish()

    def _get(self, idents: list[Dataset], run: RetrieveRun, on_store: Any) -> None:
        """C-GET: the images come back on VoxRad's own association."""
        from pynetdicom import StoragePresentationContexts, build_context, build_role, evt

        ae = self._ae()
        ae.add_requested_context(GET_MODEL)
        # 127 storage classes fit beside the query model in DICOM's 128 presentation contexts.
        roles = []
        for cx in StoragePresentationContexts[:127]:
            ae.requested_contexts.append(
                build_context(str(cx.abstract_syntax), list(_STORAGE_SYNTAXES))
            )
            roles.append(build_role(str(cx.abstract_syntax), scp_role=True))
        with self._association(ae, ext_neg=roles, handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            for ident in idents:
                if run.cancelled:
                    assoc.abort()
                    run.check_cancel()
                self._get_one(assoc, ident, GET_MODEL, run)

    def _move(self, idents: list[Dataset], run: RetrieveRun, on_store: Any) -> None:
        """C-MOVE: the PACS connects back to a storage SCP VoxRad runs for this retrieve only.

        The PACS must know this workstation's calling AE title with its host and
        ``listen_port``; only associations from the node's called AE title are accepted.
        """
        from pynetdicom import AllStoragePresentationContexts, build_context, evt

        scp = self._ae()
        scp.supported_contexts = [
            build_context(str(cx.abstract_syntax), list(_STORAGE_SYNTAXES))
            for cx in AllStoragePresentationContexts
        ]
        scp.require_called_aet = True
        scp.require_calling_aet = [self.node.called_ae]
        try:
            server = scp.start_server(
                (self.node.listen_host, self.node.listen_port),
                block=False,
                evt_handlers=[(evt.EVT_C_STORE, on_store)],
            )
        except OSError as exc:
            raise PacsError(
                f"VoxRad cannot receive images on port {self.node.listen_port} ({exc.strerror}).",
                hint="Another program uses the port, or it needs privileges: choose another "
                "listen_port for the node (and tell the PACS administrator), or use C-GET.",
            ) from exc
        try:
            ae = self._ae()
            ae.add_requested_context(MOVE_MODEL)
            with self._association(ae) as assoc:
                for ident in idents:
                    if run.cancelled:
                        assoc.abort()
                        run.check_cancel()
                    self._get_one(assoc, ident, MOVE_MODEL, run)
        finally:
            server.shutdown()

    def _get_one(self, assoc: Association, ident: Dataset, model: str, run: RetrieveRun) -> None:
        """One C-GET or C-MOVE request, to its final response."""
        if model == MOVE_MODEL:
            responses = assoc.send_c_move(ident, self.node.calling_ae, model)
        else:
            responses = assoc.send_c_get(ident, model)
        for status, _identifier in responses:
            if not status:
                if run.cancelled:
                    return
                raise self._lost(assoc, "retrieve")
            code = int(status.Status)
            if code in _PENDING:
                if run.cancelled:
                    assoc.abort()
                    return
                continue
            if code in _SUCCESS_OR_WARNING or code == 0xFE00:
                return
            if code in (0xA701, 0xA702):
                raise PacsError(
                    f"{self._where} ran out of resources sending the images (status 0x{code:04X}).",
                    hint="Try again later or retrieve one series at a time.",
                )
            # 0xA900 (no match), 0xC000 (unable to process), 0xA801 (move destination
            # unknown): images stay missing and finish() lists them; the run is incomplete.
            logger.info("C-GET/C-MOVE ended with status 0x%04X", code)
            self._last_failure = code
            return

    def store(self, paths: Sequence[Path]) -> list[StoreOutcome]:
        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError

        ae = self._ae()
        outcomes: list[StoreOutcome | None] = [None] * len(paths)
        readable: list[tuple[int, Path, str, str]] = []
        studies: dict[int, str] = {}
        # Per SOP class: one context in each compressed syntax the files use (the PACS accepts
        # or refuses each on its own), and one uncompressed fallback that files are decoded to
        # when their own syntax is refused.
        contexts: dict[str, set[str]] = {}
        for n, path in enumerate(paths):
            try:
                ds = dcmread(path, stop_before_pixels=True)
                sop_class = str(ds.SOPClassUID)
                syntax = str(ds.file_meta.TransferSyntaxUID)
                sop = str(ds.SOPInstanceUID)
                studies[n] = str(ds.get("StudyInstanceUID", ""))
            except (OSError, InvalidDicomError, AttributeError) as exc:
                outcomes[n] = StoreOutcome(str(path), "", False, f"not a DICOM file ({exc})")
                continue
            contexts.setdefault(sop_class, set())
            if syntax not in _UNCOMPRESSED:
                contexts[sop_class].add(syntax)
            readable.append((n, path, sop, sop_class))
        wanted = sum(1 + len(v) for v in contexts.values())
        if wanted > 128:
            raise PacsError(
                f"These files need {wanted} DICOM presentation contexts; one send handles 128.",
                hint="Send them in smaller groups.",
            )
        for sop_class, syntaxes in contexts.items():
            ae.add_requested_context(sop_class, list(_UNCOMPRESSED))
            for syntax in sorted(syntaxes):
                ae.add_requested_context(sop_class, [syntax])
        if readable:
            with self._association(ae) as assoc:
                for n, path, sop, _sop_class in readable:
                    try:
                        status = self._store_one(assoc, path)
                    except (ValueError, NotImplementedError, RuntimeError) as exc:
                        # No accepted context, or the pixels could not be decoded for the
                        # uncompressed fallback.
                        logger.info("C-STORE not attempted: %s", type(exc).__name__)
                        outcomes[n] = StoreOutcome(
                            str(path),
                            sop,
                            False,
                            "the PACS accepts neither this image's encoding nor an "
                            "uncompressed copy of it",
                            studies[n],
                        )
                        continue
                    if not status:
                        raise self._lost(assoc, "send")
                    code = int(status.Status)
                    ok = code == 0x0000 or (code & 0xF000) == 0xB000
                    reason = "" if ok else f"the PACS refused it (status 0x{code:04X})"
                    outcomes[n] = StoreOutcome(str(path), sop, ok, reason, studies[n])
        return [o for o in outcomes if o is not None]

    @staticmethod
    def _store_one(assoc: Association, path: Path) -> Dataset:
        from pydicom import dcmread

        ds = dcmread(path)
        syntax = str(ds.file_meta.TransferSyntaxUID)
        accepted = {
            (str(cx.abstract_syntax), str(cx.transfer_syntax[0])) for cx in assoc.accepted_contexts
        }
        if (str(ds.SOPClassUID), syntax) not in accepted and syntax not in _UNCOMPRESSED:
            ds.decompress()
        status: Dataset = assoc.send_c_store(ds)
        return status

    def close(self) -> None:
        """Nothing to release: each call opens and releases its own association."""
