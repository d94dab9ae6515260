"""Retrieve the real 134-slice CT from a real Orthanc over each protocol, against baselines.

Starts Orthanc on loopback ports (tests/pacs/orthanc_support.py), uploads the series, then
times, interleaved, ``--repeat`` runs of each into a fresh folder:

- VoxRad DICOMweb (QIDO-RS listing + one WADO-RS request per image, resumable) against a bare
  dicomweb-client ``retrieve_series`` (one multipart request, written with pydicom);
- VoxRad C-GET against dcmtk's ``getscu`` (one SERIES-level C-GET).

Prints the median seconds and the ratio VoxRad / baseline (below 1 is faster than the
baseline). Usage: python benchmarks/bench_pacs.py [--repeat N] [--slices N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ct-abdomen-134"
sys.path.insert(0, str(REPO / "tests" / "pacs"))
sys.path.insert(0, str(REPO / "app"))

from orthanc_support import (  # noqa: E402
    PACS_AE,
    PASSWORD,
    USER,
    VOXRAD_AE,
    Orthanc,
    orthanc_missing,
)

from voxrad.core.settings import PacsNode  # noqa: E402
from voxrad.pacs.base import StudyQuery  # noqa: E402
from voxrad.pacs.dicomweb import DicomwebPacs  # noqa: E402
from voxrad.pacs.dimse import DimsePacs  # noqa: E402


def _bare_dicomweb(server: Orthanc, study: str, series: str, out: Path) -> int:
    import requests
    from dicomweb_client import DICOMwebClient

    session = requests.Session()
    session.auth = (USER, PASSWORD)
    client = DICOMwebClient(server.dicomweb_url, session=session)
    n = 0
    for n, ds in enumerate(client.retrieve_series(study, series), start=1):
        ds.save_as(out / f"{n}.dcm", enforce_file_format=True)
    session.close()
    return n


def _getscu(server: Orthanc, study: str, series: str, out: Path) -> int:
    subprocess.run(
        [
            "getscu", "-aet", VOXRAD_AE, "-aec", PACS_AE, "-S",
            "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={study}",
            "-k", f"SeriesInstanceUID={series}", "-od", str(out),
            "127.0.0.1", str(server.dicom_port),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return len(list(out.iterdir()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slices", type=int, default=134)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if reason := orthanc_missing():
        print(f"skipped: {reason}")
        return 0
    root = Path(tempfile.mkdtemp(prefix="bench-pacs-"))
    server = Orthanc(root / "orthanc")
    server.start()
    try:
        files = sorted(DATA.glob("*.dcm"))[: args.slices]
        server.upload(files)
        os.environ["VOXRAD_PACS_SECRET"] = PASSWORD
        web = DicomwebPacs(
            PacsNode(name="web", url=server.dicomweb_url, auth="basic", username=USER), PASSWORD
        )
        dimse = DimsePacs(
            PacsNode(
                name="dimse",
                protocol="dimse",
                host="127.0.0.1",
                port=server.dicom_port,
                called_ae=PACS_AE,
                calling_ae=VOXRAD_AE,
            )
        )
        (study,) = web.find_studies(StudyQuery())
        (series,) = web.find_series(study.study_uid)
        uid, suid = study.study_uid, series.series_uid

        def voxrad(client: DicomwebPacs | DimsePacs) -> Callable[[Path], int]:
            def go(out: Path) -> int:
                result = client.retrieve(uid, None, out)
                assert result.complete
                return result.received

            return go

        runs: dict[str, Callable[[Path], int]] = {
            "voxrad_dicomweb": voxrad(web),
            "bare_dicomweb_client": lambda out: _bare_dicomweb(server, uid, suid, out),
            "voxrad_cget": voxrad(dimse),
            "getscu": lambda out: _getscu(server, uid, suid, out),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for rep in range(args.repeat):
            for name, fn in runs.items():
                out = root / f"{name}-{rep}"
                out.mkdir()
                start = time.perf_counter()
                count = fn(out)
                times[name].append(time.perf_counter() - start)
                assert count == len(files), (name, count)
                shutil.rmtree(out)
        web.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    report = {
        "slices": len(files),
        "repeat": args.repeat,
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "ratio_dicomweb": round(med["voxrad_dicomweb"] / med["bare_dicomweb_client"], 2),
        "ratio_cget": round(med["voxrad_cget"] / med["getscu"], 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{len(files)} slices, median of {args.repeat}:")
        for k, v in med.items():
            print(f"  {k:<22} {v:6.2f} s")
        print(f"  DICOMweb: VoxRad / bare dicomweb-client = {report['ratio_dicomweb']}")
        print(f"  C-GET:    VoxRad / getscu               = {report['ratio_cget']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
