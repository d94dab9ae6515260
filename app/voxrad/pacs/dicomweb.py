"""DICOMweb client (QIDO-RS search, WADO-RS retrieve, STOW-RS store) on dicomweb-client."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from voxrad.core.errors import (
    DependencyMissingError,
    PacsAuthError,
    PacsConnectionLostError,
    PacsError,
    PacsUnreachableError,
    StudyGoneError,
)
from voxrad.core.settings import PacsNode
from voxrad.pacs import cache
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
    from dicomweb_client import DICOMwebClient

logger = logging.getLogger(__name__)

T = TypeVar("T")

_STUDY_FIELDS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "ModalitiesInStudy",
    "AccessionNumber",
    "PatientID",
    "PatientName",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "IssuerOfPatientID",
    "StudyTime",
)
_SERIES_FIELDS = (
    "SeriesInstanceUID",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "NumberOfSeriesRelatedInstances",
    "BodyPartExamined",
)


def _verify_adapter(verify: str | bool) -> Any:
    """An HTTPS adapter that checks certificates against ``verify`` (a CA file, or False)."""
    from requests import PreparedRequest, Response
    from requests.adapters import HTTPAdapter

    class VerifyAdapter(HTTPAdapter):
        def send(
            self,
            request: PreparedRequest,
            stream: bool = False,
            timeout: float | tuple[float | None, float | None] | None = None,
            verify: bool | str = True,
            cert: str | tuple[str, str] | None = None,
            proxies: dict[str, str] | None = None,
        ) -> Response:
            return super().send(request, stream, timeout, chosen, cert, proxies)

    chosen = verify

    return VerifyAdapter()


def _value(item: dict[str, Any], tag: str) -> Any:
    """The first value of a DICOM JSON attribute, or None."""
    values = item.get(tag, {}).get("Value") or []
    if not values:
        return None
    first = values[0]
    if isinstance(first, dict) and "Alphabetic" in first:
        return first["Alphabetic"]
    return first


def _values(item: dict[str, Any], tag: str) -> tuple[str, ...]:
    return tuple(str(v) for v in item.get(tag, {}).get("Value") or ())


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class DicomwebPacs:
    """A :class:`~voxrad.pacs.base.PacsClient` for one DICOMweb service root."""

    def __init__(self, node: PacsNode, secret: str = "") -> None:
        if not node.url:
            raise PacsError(
                f"PACS node '{node.name}' has no DICOMweb URL.",
                hint="Set its url, e.g. https://pacs.example.org/dicom-web.",
            )
        self.node = node
        self._secret = secret
        self._client: DICOMwebClient | None = None

    # -- plumbing -------------------------------------------------------------------------------
    def _open(self) -> DICOMwebClient:
        if self._client is not None:
            return self._client
        try:
            import requests
            from dicomweb_client import DICOMwebClient
        except ImportError as exc:
            raise DependencyMissingError("DICOMweb support (dicomweb-client)", "pacs") from exc
        session = requests.Session()
        if self.node.ca_file or not self.node.verify_tls:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override session.verify (set on
            # many managed workstations, and here): the node's choice is forced per request.
            session.mount("https://", _verify_adapter(self.node.ca_file or False))
        if self.node.auth == "basic":
            session.auth = (self.node.username, self._secret)
        elif self.node.auth == "bearer":
            session.headers["Authorization"] = f"Bearer {self._secret}"
        client = DICOMwebClient(
            self.node.url.rstrip("/"),
            session=session,
            timeout=(min(10.0, self.node.timeout_s), self.node.timeout_s),
        )
        # dicomweb-client retries some HTTP errors for minutes; a PACS that refuses now is
        # reported now, and the clinician decides when to retry.
        client.set_http_retry_params(retry=False)
        self._client = client
        return client

    def _call(self, what: str, fn: Callable[[], T], *, during_retrieve: bool = False) -> T:
        """Run one request, turning transport and HTTP errors into PacsError subclasses."""
        import requests

        where = f"PACS node '{self.node.name}' ({self.node.url})"
        try:
            return fn()
        except requests.exceptions.SSLError as exc:
            raise PacsError(
                f"The TLS certificate of {where} could not be verified.",
                hint="Check the node's ca_file setting, or ask IT for the PACS's CA certificate.",
            ) from exc
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            if during_retrieve:
                raise PacsConnectionLostError(
                    f"The connection to {where} was lost during the retrieve."
                ) from exc
            raise PacsUnreachableError(f"{where} did not answer.") from exc
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            logger.info("DICOMweb %s failed with HTTP %s", what, status)
            if status in (401, 403):
                raise PacsAuthError(f"{where} refused the credentials (HTTP {status}).") from exc
            if status == 404 and during_retrieve:
                raise StudyGoneError(f"{where} no longer has an image of this study.") from exc
            if status == 404:
                raise PacsError(
                    f"{where} has no DICOMweb service at this URL (HTTP 404).",
                    hint="Check the node's url: it must end at the DICOMweb root, "
                    "e.g. .../dicom-web.",
                ) from exc
            raise PacsError(f"{where} failed the {what} (HTTP {status}).") from exc

    # -- PacsClient -----------------------------------------------------------------------------
    def echo(self) -> float:
        client = self._open()
        start = time.perf_counter()
        self._call("echo", lambda: client.search_for_studies(limit=1, fields=["StudyDate"]))
        return time.perf_counter() - start

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        client = self._open()
        filters = {
            "PatientID": query.patient_id,
            "IssuerOfPatientID": query.issuer_of_patient_id,
            "PatientName": query.patient_name,
            "AccessionNumber": query.accession,
            "ModalitiesInStudy": query.modality,
            "StudyDate": query.date_range,
        }
        filters = {k: v for k, v in filters.items() if v}
        items = self._call(
            "search",
            lambda: client.search_for_studies(
                search_filters=filters, fields=list(_STUDY_FIELDS), limit=query.limit
            ),
        )
        return [
            StudyMatch(
                study_uid=str(_value(i, "0020000D") or ""),
                date=str(_value(i, "00080020") or ""),
                modalities=_values(i, "00080061"),
                description=str(_value(i, "00081030") or ""),
                accession=str(_value(i, "00080050") or ""),
                patient_id=str(_value(i, "00100020") or ""),
                patient_name=str(_value(i, "00100010") or ""),
                series_count=_int(_value(i, "00201206")),
                instance_count=_int(_value(i, "00201208")),
                issuer_of_patient_id=str(_value(i, "00100021") or ""),
                time=str(_value(i, "00080030") or ""),
            )
            for i in items
        ]

    def find_series(self, study_uid: str) -> list[SeriesMatch]:
        client = self._open()
        items = self._call(
            "series search",
            lambda: client.search_for_series(study_uid, fields=list(_SERIES_FIELDS)),
        )
        return [
            SeriesMatch(
                series_uid=str(_value(i, "0020000E") or ""),
                modality=str(_value(i, "00080060") or ""),
                description=str(_value(i, "0008103E") or ""),
                number=_int(_value(i, "00200011")),
                instance_count=_int(_value(i, "00201209")),
                body_part=str(_value(i, "00180015") or ""),
            )
            for i in items
        ]

    def _instances(self, study_uid: str, series_uid: str | None) -> list[tuple[str, str]]:
        client = self._open()
        items = self._call(
            "image listing",
            lambda: client.search_for_instances(
                study_uid,
                series_uid,
                fields=["SeriesInstanceUID", "SOPInstanceUID"],
                get_remaining=True,
            ),
        )
        return [(str(_value(i, "0020000E")), str(_value(i, "00080018"))) for i in items]

    def retrieve(
        self,
        study_uid: str,
        series_uid: str | None,
        dest: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrieveResult:
        client = self._open()
        expected = self._instances(study_uid, series_uid)
        if not expected:
            raise StudyGoneError(
                f"PACS node '{self.node.name}' has no images for this "
                f"{'series' if series_uid else 'study'}.",
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
        listed = Counter(series for series, _sop in expected)
        missing = Counter(series for series, _sop in run.missing)
        for series in missing:
            # A series with nothing here yet comes as one multipart stream (WADO-RS series);
            # each image is written as its part arrives, so a cut keeps what came.
            if missing[series] == listed[series]:
                self._stream_series(client, study_uid, series, run)
        still = cache.present(run.folder, run.expected)
        failed = {f.sop_uid for f in run.result.failed}
        for series, sop in run.missing:
            if sop in still or sop in failed:
                continue
            run.check_cancel()
            try:
                ds = self._call(
                    "retrieve",
                    lambda s=series, o=sop: client.retrieve_instance(study_uid, s, o),  # type: ignore[misc]
                    during_retrieve=True,
                )
            except (PacsConnectionLostError, StudyGoneError, PacsAuthError):
                run.interrupted()
                raise
            except PacsError as exc:
                run.fail(sop, exc.message)
                continue
            except Exception as exc:  # the part did not parse as DICOM
                logger.info("DICOMweb instance did not decode: %s", type(exc).__name__)
                run.fail(sop, "the PACS sent data that is not a valid DICOM image")
                continue
            run.accept(ds)
        return run.finish()

    def _stream_series(
        self, client: DICOMwebClient, study_uid: str, series_uid: str, run: RetrieveRun
    ) -> None:
        """Take a whole series in one request. A part that does not decode ends the stream
        quietly: the images still missing are then fetched one by one."""
        parts = client.iter_series(study_uid, series_uid)
        try:
            while True:
                run.check_cancel()
                try:
                    ds = self._call("retrieve", lambda: next(parts, None), during_retrieve=True)
                except (PacsConnectionLostError, StudyGoneError, PacsAuthError):
                    run.interrupted()
                    raise
                except PacsError as exc:
                    logger.info("series stream failed (%s): one request per image", exc.message)
                    return
                except Exception as exc:  # a part that is not DICOM
                    logger.info("series stream part did not decode: %s", type(exc).__name__)
                    return
                if ds is None:
                    return
                run.accept(ds)
        finally:
            close = getattr(parts, "close", None)  # a generator: closing drops the connection
            if close is not None:
                close()

    def store(self, paths: Sequence[Path]) -> list[StoreOutcome]:
        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError

        client = self._open()
        outcomes: list[StoreOutcome] = []
        for path in paths:
            try:
                ds = dcmread(path)
            except (OSError, InvalidDicomError) as exc:
                outcomes.append(StoreOutcome(str(path), "", False, f"not a DICOM file ({exc})"))
                continue
            sop = str(ds.get("SOPInstanceUID", ""))
            study = str(ds.get("StudyInstanceUID", ""))
            try:
                reply = self._call("send", lambda d=ds: client.store_instances([d]))  # type: ignore[misc]
            except (PacsUnreachableError, PacsAuthError):
                raise
            except PacsError as exc:
                outcomes.append(StoreOutcome(str(path), sop, False, exc.message, study))
                continue
            failed = reply.get("FailedSOPSequence") if reply is not None else None
            if failed:
                reason = failed[0].get("FailureReason", "")
                outcomes.append(
                    StoreOutcome(
                        str(path), sop, False, f"the PACS refused it (reason {reason})", study
                    )
                )
            else:
                outcomes.append(StoreOutcome(str(path), sop, True, study_uid=study))
        return outcomes

    def close(self) -> None:
        if self._client is not None:
            self._client._session.close()
            self._client = None
