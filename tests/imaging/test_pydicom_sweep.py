"""Every file in pydicom's and pydicom-data's test sets loads or gives a clear, specific error."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from voxrad.core.errors import VoxRadError
from voxrad.imaging.registry import open_study

_SKIP_SUFFIXES = {".py", ".pyc", ".json", ".txt", ".gz", ".bz2", ".zip", ".md", ".pickle", ".xml"}


def _test_files() -> list[Path]:
    import data_store
    import pydicom

    roots = [
        Path(pydicom.__file__).parent / "data" / "test_files",
        Path(data_store.__file__).parent / "data",
    ]
    return sorted(
        p
        for r in roots
        for p in r.rglob("*")
        if p.is_file() and p.suffix.lower() not in _SKIP_SUFFIXES
    )


@pytest.mark.slow
def test_every_pydicom_test_file_loads_or_says_why() -> None:
    files = _test_files()
    assert len(files) > 200  # pydicom's own set plus pydicom-data's 68 real files
    loaded = failed = 0
    problems = []
    with warnings.catch_warnings():
        # The set is full of deliberately broken headers that pydicom warns about.
        warnings.simplefilter("ignore")
        for path in files:
            try:
                study = open_study(path)
                for series in study.series:
                    volume = series.load_volume()
                    if volume.shape != tuple(series.info.shape):
                        problems.append(
                            f"{path.name}: planned {series.info.shape}, got {volume.shape}"
                        )
                    if volume.voxels.dtype.kind == "f" and not np.isfinite(volume.voxels).all():
                        problems.append(f"{path.name}: non-finite voxels")
                loaded += 1
            except VoxRadError as exc:
                failed += 1
                text = exc.user_message()
                if "\n" in text or len(exc.message) < 20:
                    problems.append(f"{path.name}: unclear error {text!r}")
            except Exception as exc:  # the point of the test: nothing else may escape
                problems.append(f"{path.name}: crashed with {type(exc).__name__}: {exc}")
    assert problems == []
    # Measured 2026-11-28: 163 of 239 files hold displayable images; the rest are SR, RT,
    # waveforms, DICOMDIRs without files, deliberately truncated or undecodable files.
    assert loaded >= 160, (loaded, failed)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MR_truncated.dcm", "truncated"),
        ("rtplan.dcm", "no image data in this RT Plan Storage file"),
        ("reportsi.dcm", "no image data in this Basic Text SR Storage file"),
        ("rtstruct.dcm", "no image data (it is an RT structure set)"),
    ],
)
def test_specific_reasons(name: str, reason: str) -> None:
    path = next(p for p in _test_files() if p.name == name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(VoxRadError, match="") as info:
            study = open_study(path)
            for series in study.series:
                series.load_volume()
    assert reason in info.value.message


def test_monochrome1_radiograph_and_colour_ultrasound() -> None:
    files = {p.name: p for p in _test_files()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cr = open_study(files["RG1_UNCI.dcm"]).find().load_volume()
        us = open_study(files["examples_ybr_color.dcm"]).find().load_volume()
        palette = open_study(files["examples_palette.dcm"]).find().load_volume()
    assert cr.photometric == "MONOCHROME1" and cr.shape == (1, 1955, 1841)
    assert us.is_color and us.photometric == "RGB" and us.shape[0] == 30
    assert any("cine" in w for w in us.warnings)
    assert palette.is_color and palette.voxels.dtype == np.uint8


@pytest.mark.slow
def test_fast_header_reader_agrees_with_pydicom_on_every_file(shared_data: Path) -> None:
    """The fast reader must give the same frame headers as pydicom's full parse, or decline."""
    import dataclasses

    from voxrad.imaging.dicom import headers
    from voxrad.imaging.dicom.fast_header import parse_header
    from voxrad.imaging.sources import FileSource

    files = _test_files() + sorted((shared_data / "ct-head-tilt-28").glob("*.dcm"))
    handled = 0
    mismatches = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            head = path.read_bytes()[: headers.FAST_WINDOW]
            fast = parse_header(
                head, headers._WANTED, headers._FULL_PARSE, complete=len(head) < headers.FAST_WINDOW
            )
            if fast is None:
                continue
            handled += 1
            source = FileSource(str(path))
            with open(path, "rb") as fp:
                slow = headers._read_with_pydicom(fp, True)
            results = []
            for parsed in (fast, slow):
                try:
                    results.append(
                        [
                            dataclasses.asdict(f)
                            for f in headers.frames_from_dataset(source, *parsed)
                        ]
                    )
                except Exception as exc:
                    results.append(f"{type(exc).__name__}: {exc}")
            if results[0] != results[1]:
                mismatches.append(path.name)
    assert mismatches == []
    # Measured: 215 of 267 files take the fast path (big endian, deflated, preamble-less and
    # enhanced multi-frame files fall back to pydicom).
    assert handled >= 200


def test_fast_header_declines_what_it_does_not_handle(tmp_path: Path) -> None:
    from voxrad.imaging.dicom import headers
    from voxrad.imaging.dicom.fast_header import parse_header

    big_endian = next(p for p in _test_files() if p.name == "MR_small_bigendian.dcm").read_bytes()
    args = (headers._WANTED, headers._FULL_PARSE)
    assert parse_header(big_endian, *args, complete=True) is None
    ok = next(p for p in _test_files() if p.name == "CT_small.dcm").read_bytes()
    parsed = parse_header(ok, *args, complete=True)
    assert parsed is not None and parsed[1] is not None
    # A window that ends inside the header: fall back rather than guess.
    assert parse_header(ok[:600], *args, complete=False) is None
    assert parse_header(b"not dicom" * 100, *args, complete=True) is None
    # A corrupt length past the end of the data: decline, never raise or read garbage.
    broken = bytearray(ok)
    offset = parsed[0].get_item("Rows").value_tell - 2  # explicit VR: its 2-byte length
    broken[offset : offset + 2] = b"\xff\xff"  # 65535 bytes: beyond this 39 kB file
    assert parse_header(bytes(broken), *args, complete=True) is None
