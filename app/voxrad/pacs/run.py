"""One retrieve in progress: what is expected, what arrived, and the folder's marker.

Both protocols feed images to :meth:`RetrieveRun.accept` (the DIMSE one from the storage
handler's thread, hence the lock) and end with :meth:`RetrieveRun.finish` or, on a fault,
:meth:`RetrieveRun.interrupted`, so the marker always tells the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from voxrad.core.errors import LoadCancelledError
from voxrad.pacs import cache
from voxrad.pacs.base import CancelToken, FailedInstance, ProgressCallback, RetrieveResult

if TYPE_CHECKING:
    from pydicom import Dataset

logger = logging.getLogger(__name__)


class RetrieveRun:
    """The state of one retrieve of ``expected`` ``(series_uid, sop_uid)`` pairs into ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        node: str,
        study_uid: str,
        series_uid: str | None,
        expected: Sequence[tuple[str, str]],
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.folder = cache.private_dir(folder)
        self.node = node
        self.study_uid = study_uid
        self.series_uid = series_uid
        self.expected = list(dict.fromkeys(expected))
        self._expected_sops = {sop for _, sop in self.expected}
        self.progress = progress
        self.cancel = cancel
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        have = cache.present(self.folder, self.expected)
        self.missing = [pair for pair in self.expected if pair[1] not in have]
        self.result = RetrieveResult(
            folder=self.folder,
            study_uid=study_uid,
            expected=len(self.expected),
            already_there=len(have),
        )
        cache.write_marker(
            self.folder,
            "incomplete",
            node=node,
            study_uid=study_uid,
            series_uid=series_uid,
            result=self.result,
        )
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.result.present, self.result.expected, "retrieving")

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def accept(self, ds: Dataset) -> str | None:
        """Keep one arrived image; returns why it was refused, or None when it was written."""
        problem = cache.check_instance(ds)
        sop = str(getattr(ds, "SOPInstanceUID", "") or "")
        if problem is None:
            try:
                cache.write_instance(self.folder, ds)
            except OSError as exc:
                problem = f"the image could not be written to the cache folder ({exc.strerror})"
            except Exception:  # pydicom raises many types for elements it cannot encode
                logger.debug("instance could not be written", exc_info=True)
                problem = "the image could not be encoded as a DICOM file (damaged elements)"
        with self._lock:
            if problem is not None:
                self.result.failed.append(FailedInstance(sop, problem))
            elif sop in self._expected_sops:
                self.result.received += 1
        if problem is None:
            self._report()
        return problem

    def fail(self, sop_uid: str, reason: str) -> None:
        with self._lock:
            self.result.failed.append(FailedInstance(sop_uid, reason))

    def check_cancel(self) -> None:
        """Raise :class:`LoadCancelledError` (after marking the folder) when asked to stop."""
        if self.cancelled:
            self.interrupted()
            raise LoadCancelledError(
                "The retrieve was cancelled; the images received so far are kept, marked "
                "incomplete.",
                hint="Run it again to continue where it stopped.",
            )

    def _marked(self, complete: bool) -> RetrieveResult:
        with self._lock:
            self.result.seconds = time.perf_counter() - self._start
            self.result.complete = complete
            cache.write_marker(
                self.folder,
                "complete" if complete else "incomplete",
                node=self.node,
                study_uid=self.study_uid,
                series_uid=self.series_uid,
                result=self.result,
            )
        return self.result

    def interrupted(self) -> RetrieveResult:
        """Mark the folder incomplete with the counts so far (call before raising a fault)."""
        return self._marked(False)

    def finish(self, missing_reason: str = "the PACS did not send this image") -> RetrieveResult:
        """Mark the folder complete when every expected image is there, else incomplete;
        each image still missing is listed as failed with ``missing_reason``."""
        have = cache.present(self.folder, self.expected)
        failed_now = {f.sop_uid for f in self.result.failed}
        for _series, sop in self.expected:
            if sop not in have and sop not in failed_now:
                self.fail(sop, missing_reason)
        complete = bool(self.expected) and len(have) == len(self.expected)
        return self._marked(complete)
