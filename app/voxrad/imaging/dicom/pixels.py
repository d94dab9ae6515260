"""Decode the stored values of one frame.

Uncompressed little-endian single-frame files (most CT and MR on disk) are read straight
from the file at the offset the header scan recorded: no second parse. Compressed
monochrome frames are cut out of the encapsulated pixel data at that same offset and decoded
by the decoder :mod:`decoders` names for their transfer syntax (imagecodecs, which lets
threads decode in parallel). Everything else (uncompressed multi-frame, colour, big endian,
deflated, and any frame the fast decoders refuse) goes through pydicom's decoders with the
pylibjpeg plugins. :class:`FrameReader` may be shared by threads.
"""

from __future__ import annotations

import logging
import struct
import threading

import numpy as np
import pydicom
from pydicom.pixels import pixel_array

from voxrad.imaging.dicom.decoders import decode_with_imagecodecs, parallel_codec
from voxrad.imaging.dicom.headers import FrameHeader
from voxrad.imaging.sources import FileSource, Source

logger = logging.getLogger(__name__)

_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR"}


class PixelDecodeError(Exception):
    """The pixels of a frame could not be decoded; the message says why."""


def _native_dtype(h: FrameHeader) -> np.dtype | None:
    signed = h.pixel_representation == 1
    if h.bits_allocated == 16:
        return np.dtype("<i2" if signed else "<u2")
    if h.bits_allocated == 8:
        return np.dtype("i1" if signed else "u1")
    if h.bits_allocated == 32:
        return np.dtype("<i4" if signed else "<u4")
    return None


def _fast_path_ok(h: FrameHeader) -> bool:
    return (
        h.is_native
        and h.frame is None
        and h.samples_per_pixel == 1
        and h.photometric in ("MONOCHROME1", "MONOCHROME2")
        and h.pixel_offset is not None
        and isinstance(h.source, FileSource)
        and _native_dtype(h) is not None
    )


def _read_native(h: FrameHeader) -> np.ndarray:
    """Read an uncompressed frame at the recorded pixel-data offset."""
    assert h.pixel_offset is not None and isinstance(h.source, FileSource)
    dtype = _native_dtype(h)
    assert dtype is not None
    count = h.rows * h.columns
    with open(h.source.path, "rb") as fp:
        fp.seek(h.pixel_offset)
        head = fp.read(12)
        if len(head) < 8:
            raise PixelDecodeError("the file ends before its pixel data (truncated)")
        explicit = h.transfer_syntax == "1.2.840.10008.1.2.1"
        if explicit and head[4:6] in _LONG_VRS:
            length = struct.unpack("<I", head[8:12])[0]
            start = h.pixel_offset + 12
        elif explicit and head[4:6].isalpha():
            length = struct.unpack("<H", head[6:8])[0]
            start = h.pixel_offset + 8
        else:
            length = struct.unpack("<I", head[4:8])[0]
            start = h.pixel_offset + 8
        if length == 0xFFFFFFFF:
            raise PixelDecodeError("encapsulated pixel data in an uncompressed transfer syntax")
        if length < count * dtype.itemsize:
            raise PixelDecodeError(
                f"pixel data holds {length} bytes, {count * dtype.itemsize} expected"
            )
        fp.seek(start)
        data = np.fromfile(fp, dtype=dtype, count=count)
    if data.size < count:
        raise PixelDecodeError("the file ends inside its pixel data (truncated)")
    arr = data.reshape(h.rows, h.columns)
    return _fix_bits(arr, h)


def _fix_bits(arr: np.ndarray, h: FrameHeader) -> np.ndarray:
    """Honour BitsStored: sign-extend signed values, as pydicom does for native data."""
    unused = h.bits_allocated - h.bits_stored
    if unused > 0 and h.pixel_representation == 1 and arr.dtype.kind == "i":
        arr = np.left_shift(arr, unused)
        arr >>= unused
    return arr


#: The item tag (FFFE,E000), little endian, that opens encapsulated pixel data.
_ITEM = b"\xfe\xff\x00\xe0"


def _encapsulated_value(h: FrameHeader) -> bytes:
    """The items of the encapsulated pixel data element at the recorded offset."""
    assert h.pixel_offset is not None
    with h.source.open() as fp:
        fp.seek(h.pixel_offset)
        head = fp.read(12)
        if len(head) < 12:
            raise PixelDecodeError("the file ends before its pixel data (truncated)")
        if head[8:12] != b"\xff\xff\xff\xff":
            raise ValueError("compressed pixel data without encapsulation")
        value = fp.read()
    if value[:4] != _ITEM:
        raise ValueError("the encapsulated pixel data does not start with an item")
    return value


def _split_frames(value: bytes, count: int) -> list[bytes]:
    from pydicom.encaps import generate_frames

    frames = list(generate_frames(value, number_of_frames=count))
    if len(frames) != count:
        raise ValueError(f"{len(frames)} compressed frames found, {count} expected")
    return frames


class FrameReader:
    """Reads frames, keeping the last multi-frame file so its frames are split or decoded once.

    Safe to call from several threads at once: the per-file caches are guarded by a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached_name: str | None = None
        self._cached: np.ndarray | None = None
        self._encapsulated_name: str | None = None
        self._encapsulated: list[bytes] = []
        #: Syntaxes whose frames imagecodecs refused but pydicom read: not tried again.
        self._refused: set[str] = set()

    def read(self, h: FrameHeader) -> np.ndarray:
        """Stored values of frame ``h`` as (rows, columns) or (rows, columns, 3)."""
        try:
            if _fast_path_ok(h):
                return _read_native(h)
            codec = parallel_codec(h)
            if codec is None or codec.syntax in self._refused:
                return self._read_with_pydicom(h)
            try:
                return decode_with_imagecodecs(codec, self._compressed_frame(h), h)
            except Exception as exc:
                # Any failure of the fast path (an unusual codestream, a broken file) is
                # retried with pydicom, the reference decoder, whose error is the one
                # reported when the frame truly cannot be decoded.
                logger.info(
                    "imagecodecs could not decode a %s frame (%s); trying pydicom",
                    codec.name,
                    type(exc).__name__,
                )
            arr = self._read_with_pydicom(h)
            # pydicom could: this series' encoder writes something imagecodecs does not
            # read, so its other frames go straight to pydicom instead of failing twice.
            self._refused.add(codec.syntax)
            return arr
        except PixelDecodeError:
            raise
        except (
            ValueError,
            RuntimeError,
            NotImplementedError,
            OSError,
            EOFError,
            KeyError,
            AttributeError,
            TypeError,
            IndexError,
        ) as exc:
            raise PixelDecodeError(_explain(exc, h)) from exc

    def _compressed_frame(self, h: FrameHeader) -> bytes:
        if h.frame is None:
            return _split_frames(_encapsulated_value(h), 1)[0]
        with self._lock:
            if self._encapsulated_name != h.source.name:
                self._encapsulated = []
                self._encapsulated_name = None
                self._encapsulated = _split_frames(_encapsulated_value(h), h.number_of_frames)
                self._encapsulated_name = h.source.name
            return self._encapsulated[h.frame]

    def _read_with_pydicom(self, h: FrameHeader) -> np.ndarray:
        if h.frame is None:
            arr = _decode_all(h.source)
        else:
            with self._lock:
                if self._cached_name != h.source.name:
                    self._cached = None  # free the previous file's frames first
                    self._cached_name = None
                    self._cached = _decode_all(h.source)
                    self._cached_name = h.source.name
                cached = self._cached
            assert cached is not None
            arr = cached[h.frame] if h.number_of_frames > 1 else cached
        if arr.shape[:2] != (h.rows, h.columns):
            raise PixelDecodeError(
                f"decoded size {arr.shape[:2]} does not match Rows/Columns {(h.rows, h.columns)}"
            )
        return arr


def _decode_all(source: Source) -> np.ndarray:
    with source.open() as fp:
        ds = pydicom.dcmread(fp, force=True)
        _ensure_transfer_syntax(ds)
        arr = pixel_array(ds)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "PALETTE COLOR":
        # Palette indices mean nothing to a reader: show the colours the file defines.
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(arr, ds)
        top = float(rgb.max()) if rgb.size else 0.0
        arr = (rgb / 257.0).round().astype(np.uint8) if top > 255 else rgb.astype(np.uint8)
    return arr


def _ensure_transfer_syntax(ds: pydicom.Dataset) -> None:
    """Files without a meta header (old ACR-NEMA style) still say how they were parsed."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if not ds.original_encoding[1]:
        meta.TransferSyntaxUID = ExplicitVRBigEndian
    elif ds.original_encoding[0]:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian


def _explain(exc: Exception, h: FrameHeader) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if (
        "plugin" in text.lower()
        or "decoder" in text.lower()
        or isinstance(exc, NotImplementedError)
    ):
        from pydicom.uid import UID

        return (
            f"its compression ({UID(h.transfer_syntax).name}) cannot be decoded on this "
            f"workstation ({text[:160]})"
        )
    return f"its pixel data could not be read ({text[:200]})"
