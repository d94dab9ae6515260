"""Re-encode a real DICOM series in the transfer syntaxes that PACS send, for tests and
benchmarks.

Encoders: pydicom's own (RLE, JPEG 2000 via pylibjpeg-openjpeg, deflate), dcmtk's command
line tools (JPEG process 1/2-4/14, JPEG-LS; the README's set-up installs dcmtk) and
imagecodecs (HTJ2K, which neither pydicom nor dcmtk writes). Each encoded series is written
once into a cache folder and reused while its files are there.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

HTJ2K_LOSSLESS = UID("1.2.840.10008.1.2.4.201")
HTJ2K = UID("1.2.840.10008.1.2.4.203")


@dataclass(frozen=True)
class Encoding:
    """One way of writing the series: the syntax it yields and whether values survive."""

    name: str
    syntax: str
    lossless: bool
    #: "pydicom", "dcmtk" or "imagecodecs": what must be installed to write it.
    needs: str
    #: Stored values converted to 8 bits first (JPEG baseline holds no more).
    eight_bit: bool = False


ENCODINGS: dict[str, Encoding] = {
    e.name: e
    for e in (
        Encoding("explicit", ExplicitVRLittleEndian, True, "pydicom"),
        Encoding("deflated", DeflatedExplicitVRLittleEndian, True, "pydicom"),
        Encoding("rle", RLELossless, True, "pydicom"),
        Encoding("j2k-lossless", JPEG2000Lossless, True, "pydicom"),
        Encoding("j2k-lossy", JPEG2000, False, "pydicom"),
        Encoding("htj2k-lossless", HTJ2K_LOSSLESS, True, "imagecodecs"),
        Encoding("htj2k-lossy", HTJ2K, False, "imagecodecs"),
        Encoding("jpegls-lossless", "1.2.840.10008.1.2.4.80", True, "dcmtk"),
        Encoding("jpegls-near", "1.2.840.10008.1.2.4.81", False, "dcmtk"),
        Encoding("jpeg-lossless-p14", "1.2.840.10008.1.2.4.57", True, "dcmtk"),
        Encoding("jpeg-lossless-sv1", "1.2.840.10008.1.2.4.70", True, "dcmtk"),
        Encoding("jpeg-extended-12", "1.2.840.10008.1.2.4.51", False, "dcmtk"),
        Encoding("jpeg-baseline-8", "1.2.840.10008.1.2.4.50", False, "dcmtk", eight_bit=True),
    )
}

#: dcmtk tool and options per encoding (process 14 with predictor 6, dcmcjpeg's default).
_DCMTK = {
    "jpegls-lossless": ["dcmcjpls", "+el"],
    "jpegls-near": ["dcmcjpls", "+en", "+md", "2"],
    "jpeg-lossless-p14": ["dcmcjpeg", "+el"],
    "jpeg-lossless-sv1": ["dcmcjpeg", "+e1"],
    "jpeg-extended-12": ["dcmcjpeg", "+ee", "+q", "90"],
    "jpeg-baseline-8": ["dcmcjpeg", "+eb", "+q", "90"],
}


def available(encoding: Encoding) -> str:
    """Why ``encoding`` cannot be written here, or ``""`` when it can."""
    if encoding.needs == "dcmtk":
        tool = _DCMTK[encoding.name][0]
        return "" if shutil.which(tool) else f"dcmtk's {tool} is not installed"
    if encoding.needs == "imagecodecs":
        try:
            import imagecodecs
        except ImportError:
            return "imagecodecs is not installed"
        return "" if imagecodecs.HTJ2K.available else "imagecodecs was built without HTJ2K"
    return ""


def _to_eight_bit(ds: Dataset) -> None:
    """CT values windowed (W 400 / L 40 HU) into 8 stored bits, as a baseline JPEG holds."""
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    stored = np.clip((hu + 160.0) / 400.0 * 255.0, 0, 255).astype(np.uint8)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = stored.tobytes()
    ds["PixelData"].VR = "OB"


def _to_signed_12(ds: Dataset) -> None:
    """CT values stored as signed 12-bit HU (PixelRepresentation 1, no intercept)."""
    hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = np.clip(hu, -2048, 2047).astype(np.int16).tobytes()
    ds["PixelData"].VR = "OW"


def _prepared(src: Path, encoding: Encoding, variant: str) -> Dataset:
    ds = pydicom.dcmread(src)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress()
    if encoding.eight_bit:
        _to_eight_bit(ds)
    if variant == "signed12":
        _to_signed_12(ds)
    elif variant:
        raise ValueError(f"unknown variant {variant!r}")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _htj2k(ds: Dataset, syntax: str, dest: Path) -> None:
    import imagecodecs
    from pydicom.encaps import encapsulate

    frames = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    lossless = syntax == HTJ2K_LOSSLESS
    streams = [imagecodecs.htj2k_encode(f, reversible=lossless) for f in frames]
    ds.PixelData = encapsulate(streams)
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(dest, enforce_file_format=True)


def encode_file(src: Path, dest: Path, encoding: Encoding, *, variant: str = "") -> None:
    """Write ``src`` (any syntax) to ``dest`` in ``encoding``.

    ``variant`` ``"signed12"`` stores the values as signed 12-bit HU first.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds = _prepared(src, encoding, variant)
    if encoding.needs == "dcmtk":
        plain = dest.with_suffix(".plain")
        ds.save_as(plain, enforce_file_format=True)
        subprocess.run(
            [*_DCMTK[encoding.name], str(plain), str(dest)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        plain.unlink()
    elif encoding.needs == "imagecodecs":
        _htj2k(ds, encoding.syntax, dest)
    elif encoding.syntax in (ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian):
        ds.file_meta.TransferSyntaxUID = encoding.syntax
        ds.save_as(dest, enforce_file_format=True)
    elif encoding.syntax == JPEG2000:
        ds.compress(JPEG2000, j2k_cr=[20])
        ds.save_as(dest, enforce_file_format=True)
    else:
        ds.compress(encoding.syntax)
        ds.save_as(dest, enforce_file_format=True)


def encode_series(
    src: Path,
    cache: Path,
    encoding: Encoding,
    *,
    limit: int | None = None,
    variant: str = "",
) -> Path:
    """The series in ``src`` written in ``encoding`` under ``cache``; reused when complete.

    ``limit`` keeps that many files from the middle of the series (tests need few).
    """
    files = sorted(p for p in src.iterdir() if p.suffix.lower() == ".dcm")
    if limit is not None and len(files) > limit:
        start = (len(files) - limit) // 2
        files = files[start : start + limit]
    out = cache / "-".join(filter(None, (encoding.name, variant, str(len(files)))))
    done = out / ".complete"
    if done.exists():
        return out
    if out.exists():
        shutil.rmtree(out)
    for path in files:
        encode_file(path, out / path.name, encoding, variant=variant)
    done.write_text("")
    return out


def encode_multiframe(src: Path, cache: Path, encoding: Encoding, *, limit: int) -> Path:
    """One enhanced CT multi-frame object of ``limit`` slices of ``src``, in ``encoding``.

    Returns the folder that holds it (alone), reused when already written.
    """
    out = cache / f"multiframe-{encoding.name}-{limit}"
    dest = out / "enhanced.dcm"
    if dest.exists():
        return out
    plain = cache / f"multiframe-{limit}.plain"
    if not plain.exists():
        _write_multiframe(src, plain, limit)
    encode_file(plain, dest, encoding)
    return out


def _write_multiframe(src: Path, dest: Path, limit: int) -> None:
    from pydicom.sequence import Sequence
    from pydicom.uid import EnhancedCTImageStorage

    files = sorted(p for p in src.iterdir() if p.suffix.lower() == ".dcm")
    start = (len(files) - limit) // 2
    slices = [pydicom.dcmread(p) for p in files[start : start + limit]]
    pixels = b"".join(s.pixel_array.tobytes() for s in slices)
    ds = slices[0]
    ds.SOPClassUID = EnhancedCTImageStorage
    ds.file_meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    ds.NumberOfFrames = len(slices)
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = list(ds.ImageOrientationPatient)
    measures = Dataset()
    measures.PixelSpacing = list(ds.PixelSpacing)
    measures.SliceThickness = ds.SliceThickness
    transform = Dataset()
    transform.RescaleSlope = ds.RescaleSlope
    transform.RescaleIntercept = ds.RescaleIntercept
    transform.RescaleType = "HU"
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PixelValueTransformationSequence = Sequence([transform])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for s in slices:
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = list(s.ImagePositionPatient)
        item.PlanePositionSequence = Sequence([pos])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(ds, keyword)
    ds.PixelData = pixels
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dest.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dest, enforce_file_format=True)
