"""Compressed series: every transfer syntax PACS send loads with the reference's voxels.

Fixtures are the real CT in ../shared/data re-encoded at test time (compressed_series.py),
a few slices from its middle, cached for the session. The reference is pydicom's own decode
of the same files; for lossless syntaxes also the uncompressed original.
"""

from __future__ import annotations

import logging
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from compressed_series import ENCODINGS, available, encode_multiframe, encode_series
from synthetic import write_stack

from voxrad.core.errors import LoadCancelledError, StudyLoadError
from voxrad.core.volume import Volume
from voxrad.imaging.dicom import decoders
from voxrad.imaging.registry import open_study

SLICES = 6


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compressed-series")


@pytest.fixture(scope="session")
def ct(shared_data: Path) -> Path:
    return shared_data / "ct-abdomen-134"


def _series(ct: Path, cache: Path, name: str, *, variant: str = "", limit: int = SLICES) -> Path:
    encoding = ENCODINGS[name]
    why = available(encoding)
    if why:
        pytest.fail(f"cannot write the {name} fixture: {why} (the README's set-up installs it)")
    return encode_series(ct, cache, encoding, limit=limit, variant=variant)


def _pydicom_reference(folder: Path) -> np.ndarray:
    """Rescaled values of every frame, sorted along the slice normal, decoded by pydicom."""
    slices = []
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        frames = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns).astype(np.float64)
        if "PerFrameFunctionalGroupsSequence" in ds:
            shared = ds.SharedFunctionalGroupsSequence[0]
            transform = shared.PixelValueTransformationSequence[0]
            slope, intercept = float(transform.RescaleSlope), float(transform.RescaleIntercept)
            items = ds.PerFrameFunctionalGroupsSequence
            zs = [float(i.PlanePositionSequence[0].ImagePositionPatient[2]) for i in items]
        else:
            slope = float(ds.get("RescaleSlope", 1))
            intercept = float(ds.get("RescaleIntercept", 0))
            zs = [float(ds.ImagePositionPatient[2])]
        slices.extend(zip(zs, frames * slope + intercept, strict=True))
    slices.sort(key=lambda item: item[0])
    return np.stack([s for _, s in slices])


def _load(folder: Path) -> Volume:
    study = open_study(folder)
    assert study.skipped == []
    return study.find().load_volume()


LOSSLESS = [name for name, e in ENCODINGS.items() if e.lossless and name != "explicit"]
LOSSY = [name for name, e in ENCODINGS.items() if not e.lossless]


@pytest.mark.parametrize("name", LOSSLESS)
def test_lossless_syntax_gives_the_reference_voxels(
    name: str, ct: Path, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _series(ct, cache, name)
    assert pydicom.dcmread(next(folder.glob("*.dcm"))).file_meta.TransferSyntaxUID == (
        ENCODINGS[name].syntax
    )
    original = _load(_series(ct, cache, "explicit"))
    with caplog.at_level(logging.INFO, logger="voxrad.imaging.dicom.pixels"):
        volume = _load(folder)
    # The fast decoder read every frame itself: no frame fell back to pydicom.
    assert "trying pydicom" not in caplog.text
    assert volume.voxels.dtype == np.int16 and volume.units == "HU"
    np.testing.assert_array_equal(volume.voxels, original.voxels)
    np.testing.assert_array_equal(volume.voxels, _pydicom_reference(folder))
    assert volume.origin == original.origin and volume.spacing == original.spacing


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_syntax_matches_pydicom_within_decoder_rounding(
    name: str, ct: Path, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _series(ct, cache, name)
    with caplog.at_level(logging.INFO, logger="voxrad.imaging.dicom.pixels"):
        volume = _load(folder)
    assert "trying pydicom" not in caplog.text
    reference = _pydicom_reference(folder)
    diff = np.abs(volume.voxels.astype(np.float64) - reference)
    # Two IDCT implementations (libjpeg-turbo, libjpeg) may round a value differently.
    assert float(diff.max()) <= 2.0 and float(diff.mean()) < 0.1
    if ENCODINGS[name].eight_bit:
        assert volume.voxels.dtype == np.int16 and volume.voxels.max() <= 255


@pytest.mark.parametrize("name", ["rle", "j2k-lossless", "jpegls-lossless", "jpeg-lossless-sv1"])
def test_signed_12_bit_values_keep_their_sign(name: str, ct: Path, cache: Path) -> None:
    folder = _series(ct, cache, name, variant="signed12")
    ds = pydicom.dcmread(next(folder.glob("*.dcm")))
    assert (ds.PixelRepresentation, ds.BitsStored) == (1, 12)
    volume = _load(folder)
    reference = _pydicom_reference(folder)
    assert reference.min() < 0
    np.testing.assert_array_equal(volume.voxels, reference)
    np.testing.assert_array_equal(volume.voxels, _load(_series(ct, cache, "explicit")).voxels)


@pytest.mark.parametrize("name", ["j2k-lossless", "rle", "jpegls-lossless", "htj2k-lossless"])
def test_compressed_multiframe_object(name: str, ct: Path, cache: Path) -> None:
    folder = encode_multiframe(ct, cache, ENCODINGS[name], limit=SLICES)
    ds = pydicom.dcmread(folder / "enhanced.dcm")
    assert ds.NumberOfFrames == SLICES and ds.file_meta.TransferSyntaxUID == ENCODINGS[name].syntax
    volume = _load(folder)
    original = _load(_series(ct, cache, "explicit"))
    np.testing.assert_array_equal(volume.voxels, original.voxels)
    np.testing.assert_array_equal(volume.voxels, _pydicom_reference(folder))


def test_middle_slice_first_progress_and_cancel_while_decoding(ct: Path, cache: Path) -> None:
    folder = _series(ct, cache, "j2k-lossless", limit=12)
    series = open_study(folder).find()
    events: list[tuple[int, int, str]] = []
    first: list[tuple[int, np.ndarray]] = []
    volume = series.load_volume(
        progress=lambda d, t, s: events.append((d, t, s)),
        on_first_slice=lambda k, image: first.append((k, image)),
    )
    assert [k for k, _ in first] == [6]
    np.testing.assert_array_equal(first[0][1], volume.voxels[6])
    assert [d for d, _, _ in events] == list(range(1, 13)) and events[-1] == (12, 12, "reading")

    cancel = threading.Event()
    seen: list[int] = []

    def stop_after_three(done: int, total: int, stage: str) -> None:
        seen.append(done)
        if done == 3:
            cancel.set()

    with pytest.raises(LoadCancelledError):
        series.load_volume(progress=stop_after_three, cancel=cancel)
    # Cancelled between frames: the frames queued behind them were never reported.
    assert 3 <= max(seen) < 12


def test_decoding_uses_at_most_one_stack_and_a_few_frames(ct: Path, cache: Path) -> None:
    folder = _series(ct, cache, "j2k-lossless", limit=12)
    series = open_study(folder).find()
    series.load_volume()  # imports and first-use caches outside the measurement
    tracemalloc.start()
    try:
        volume = series.load_volume()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # uint16 stored -> int16 HU is rescaled in place; the decoding threads hold one frame
    # each and the queue a few compressed frames.
    frame = volume.voxels[0].nbytes
    assert peak <= volume.voxels.nbytes + 8 * frame, (peak, volume.voxels.nbytes)


def _corrupt_copy(src: Path, dest: Path, names: list[str]) -> None:
    from pydicom.encaps import encapsulate

    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        if path.name in names:
            # A JPEG 2000 codestream header followed by noise: no decoder can read it.
            noise = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
            ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + noise])
        ds.save_as(dest / path.name, enforce_file_format=True)


def test_undecodable_frame_is_skipped_with_a_clear_reason(
    ct: Path, cache: Path, tmp_path: Path
) -> None:
    src = _series(ct, cache, "j2k-lossless")
    names = sorted(p.name for p in src.glob("*.dcm"))
    _corrupt_copy(src, tmp_path / "one", [names[1]])
    series = open_study(tmp_path / "one").find()
    skipped: list = []
    volume = series.load_volume(skipped=skipped)
    assert [Path(s.path).name for s in skipped] == [names[1]]
    assert skipped[0].reason.startswith(("its pixel data could not be read", "its compression"))
    assert volume.shape[0] == SLICES  # the gap is filled and reported
    assert any("1 of 6 images could not be decoded" in w for w in volume.warnings)

    _corrupt_copy(src, tmp_path / "all", names)
    with pytest.raises(StudyLoadError, match="No image in this series could be decoded"):
        open_study(tmp_path / "all").find().load_volume()


def test_without_imagecodecs_pydicom_decodes_the_same_voxels(
    ct: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decoders, "_imagecodecs", lambda: None)
    folder = _series(ct, cache, "j2k-lossless")
    assert decoders.parallel_codec(open_study(folder).find().loader.plan.frames[0]) is None
    np.testing.assert_array_equal(_load(folder).voxels, _pydicom_reference(folder))


def test_a_syntax_imagecodecs_refuses_goes_to_pydicom_after_one_try(
    ct: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def refuse(data: bytes) -> np.ndarray:
        calls.append(len(data))
        raise RuntimeError("unsupported codestream")

    real = decoders.imagecodecs_function
    monkeypatch.setattr(
        decoders,
        "imagecodecs_function",
        lambda codec: refuse if codec.imagecodecs == "jpeg2k_decode" else real(codec),
    )
    folder = _series(ct, cache, "j2k-lossless")
    volume = _load(folder)
    np.testing.assert_array_equal(volume.voxels, _pydicom_reference(folder))
    assert len(calls) == 1  # the middle slice; the rest went straight to pydicom


def test_a_frame_of_another_stored_type_widens_the_stack(tmp_path: Path) -> None:
    positions = [(0.0, 0.0, 2.0 * k) for k in range(5)]
    reference = open_study(write_stack(tmp_path / "ref", positions)[0].parent)
    expected = reference.find().load_volume().voxels
    paths = write_stack(tmp_path / "mixed", positions)
    # The middle slice (read first, so it sets the stack's type) stored unsigned, the
    # others signed: the same values, two stored types in one series.
    ds = pydicom.dcmread(paths[2])
    assert int(np.frombuffer(ds.PixelData, np.int16).min()) >= 0
    ds.PixelRepresentation = 0
    ds.save_as(paths[2], enforce_file_format=True)
    volume = open_study(paths[0].parent).find().load_volume()
    assert volume.voxels.dtype == np.int16
    np.testing.assert_array_equal(volume.voxels, expected)


@pytest.mark.slow
def test_pydicom_test_files_decode_as_pydicom_does(caplog: pytest.LogCaptureFixture) -> None:
    """Every monochrome compressed file of pydicom's and pydicom-data's sets that the fast
    decoders take gives pydicom's stored values: exactly for lossless syntaxes (signed
    JPEG 2000, odd bit depths, multi-frame and fragmented files among them)."""
    import warnings

    import data_store

    from voxrad.imaging.dicom.headers import frames_from_dataset, read_dataset
    from voxrad.imaging.dicom.pixels import FrameReader, PixelDecodeError
    from voxrad.imaging.sources import FileSource

    roots = [
        Path(pydicom.__file__).parent / "data" / "test_files",
        Path(data_store.__file__).parent / "data",
    ]
    compared: list[str] = []
    problems: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deliberately broken headers among them
        for path in sorted(p for r in roots for p in r.rglob("*.dcm")):
            source = FileSource(str(path))
            try:
                frames = frames_from_dataset(source, *read_dataset(source))
                reference = pydicom.dcmread(path).pixel_array
            except Exception:
                continue  # not an image, or pydicom cannot decode it either
            codec = decoders.parallel_codec(frames[0])
            if codec is None:
                continue
            reader = FrameReader()
            caplog.clear()
            try:
                with caplog.at_level(logging.INFO, logger="voxrad.imaging.dicom.pixels"):
                    got = np.stack([reader.read(f) for f in frames])
            except PixelDecodeError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            compared.append(path.name)
            reference = reference.reshape(got.shape)
            diff = float(np.abs(got.astype(np.float64) - reference).max())
            if got.dtype != reference.dtype or diff > (0 if codec.lossless else 2):
                problems.append(f"{path.name} ({codec.name}): {got.dtype} max diff {diff}")
            if "trying pydicom" in caplog.text:
                problems.append(f"{path.name} ({codec.name}): fell back to pydicom")
    assert len(compared) >= 20, compared
    assert problems == []
