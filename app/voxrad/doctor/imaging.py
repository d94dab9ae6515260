"""Which decoder reads each DICOM transfer syntax on this workstation."""

from __future__ import annotations

from typing import Any

from voxrad.doctor.check import Check, Status


def check_dicom_decoders() -> Check:
    """Every transfer syntax of the loader's table, with the decoder it uses here.

    OK when each syntax has a decoder and the compressed ones decode in parallel; WARNING
    when imagecodecs is missing (compressed studies load several times slower) or when some
    syntax cannot be decoded at all.
    """
    from voxrad.imaging.dicom.decoders import CODECS, imagecodecs_version, routes

    rows = routes()
    detail: dict[str, Any] = {
        "imagecodecs": imagecodecs_version(),
        "syntaxes": [
            {
                "syntax": r.syntax,
                "name": r.name,
                "lossless": r.lossless,
                "decoder": r.decoder or None,
                "parallel": r.parallel,
            }
            for r in rows
        ],
    }
    missing = [r.name for r in rows if not r.decoder]
    serial = [r.name for r in rows if r.decoder and not r.parallel]
    parallel = len(rows) - len(missing) - len(serial)
    summary = f"{len(rows) - len(missing)} of {len(CODECS)} transfer syntaxes decodable"
    if missing:
        return Check(
            "dicom",
            Status.WARNING,
            f"{summary}; no decoder for: {', '.join(missing)}",
            detail,
            "Reinstall VoxRad so that its DICOM decoders (imagecodecs, pylibjpeg) are present.",
        )
    if any(CODECS[r.syntax].imagecodecs for r in rows if not r.parallel and r.decoder):
        return Check(
            "dicom",
            Status.WARNING,
            f"{summary}; {len(serial)} decode on one core only (imagecodecs is missing)",
            detail,
            "Install imagecodecs (pip install imagecodecs) so compressed studies load faster.",
        )
    return Check("dicom", Status.OK, f"{summary}, {parallel} in parallel threads", detail)
