"""Which decoder each DICOM transfer syntax goes through: the one table, read by the loader
and by ``voxrad doctor``.

imagecodecs' decoders release the GIL, so the frames of a series decode in parallel threads
(measured on a 2-core workstation: JPEG 2000 1.8x, JPEG-LS 2.0x); pydicom's pylibjpeg plugins
hold it, so a thread pool gains nothing with them. imagecodecs is therefore used wherever its
output was checked to equal pydicom's reference decode (tests/imaging/test_compressed.py), for
single-sample monochrome frames of 8 or 16 bits. Everything else (colour, 32-bit, deflated,
big endian, a frame imagecodecs refuses) goes through pydicom's decoders, which stay the
reference.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxrad.imaging.dicom.headers import NATIVE_LITTLE_ENDIAN, FrameHeader

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Codec:
    """How one transfer syntax is decoded.

    Parameters
    ----------
    syntax
        Transfer syntax UID.
    name
        Short name for reports (``"JPEG 2000 lossless"``).
    lossless
        Whether the syntax guarantees the stored values (tests demand identical voxels).
    imagecodecs
        Name of the imagecodecs function that decodes one monochrome frame, or ``None``
        when pydicom decodes this syntax.
    """

    syntax: str
    name: str
    lossless: bool
    imagecodecs: str | None


#: Every transfer syntax VoxRad knows a decoder for, keyed by UID.
#: The JPEG lossless and 12-bit syntaxes use libjpeg-turbo 3 (``jpeg8_decode``), which reads
#: process 14 with any predictor; measured fastest of imagecodecs' three lossless JPEG
#: decoders (1.7 ms against 2.7 ms for liblj92, 4.1 ms for jpegsof3, 512x512 CT frame).
CODECS: dict[str, Codec] = {
    c.syntax: c
    for c in (
        Codec("1.2.840.10008.1.2", "implicit VR little endian", True, None),
        Codec("1.2.840.10008.1.2.1", "explicit VR little endian", True, None),
        Codec("1.2.840.10008.1.2.1.99", "deflated explicit VR little endian", True, None),
        Codec("1.2.840.10008.1.2.2", "explicit VR big endian", True, None),
        Codec("1.2.840.10008.1.2.5", "RLE lossless", True, "dicomrle_decode"),
        Codec("1.2.840.10008.1.2.4.50", "JPEG baseline (8-bit)", False, "jpeg8_decode"),
        Codec("1.2.840.10008.1.2.4.51", "JPEG extended (12-bit)", False, "jpeg8_decode"),
        Codec("1.2.840.10008.1.2.4.57", "JPEG lossless (process 14)", True, "jpeg8_decode"),
        Codec("1.2.840.10008.1.2.4.70", "JPEG lossless SV1", True, "jpeg8_decode"),
        Codec("1.2.840.10008.1.2.4.80", "JPEG-LS lossless", True, "jpegls_decode"),
        Codec("1.2.840.10008.1.2.4.81", "JPEG-LS near-lossless", False, "jpegls_decode"),
        Codec("1.2.840.10008.1.2.4.90", "JPEG 2000 lossless", True, "jpeg2k_decode"),
        Codec("1.2.840.10008.1.2.4.91", "JPEG 2000", False, "jpeg2k_decode"),
        # openjpeg reads HT-only and mixed HTJ2K codestreams (openjph only HT-only ones).
        Codec("1.2.840.10008.1.2.4.201", "HTJ2K lossless", True, "jpeg2k_decode"),
        Codec("1.2.840.10008.1.2.4.202", "HTJ2K lossless RPCL", True, "jpeg2k_decode"),
        Codec("1.2.840.10008.1.2.4.203", "HTJ2K", False, "jpeg2k_decode"),
    )
}


@functools.cache
def _imagecodecs() -> Any | None:
    try:
        import imagecodecs
    except ImportError:
        logger.info("imagecodecs is not installed: compressed frames decode with pydicom only")
        return None
    return imagecodecs


def imagecodecs_version() -> str | None:
    """The installed imagecodecs version, or ``None`` when it is missing."""
    module = _imagecodecs()
    return None if module is None else str(module.__version__)


def imagecodecs_function(codec: Codec) -> Callable[..., Any] | None:
    """The imagecodecs decoder for ``codec`` when installed and built with that codec."""
    module = _imagecodecs()
    if module is None or codec.imagecodecs is None:
        return None
    family = codec.imagecodecs.removesuffix("_decode").upper()
    info = getattr(module, family, None)
    if info is not None and not getattr(info, "available", True):
        return None
    fn = getattr(module, codec.imagecodecs, None)
    return fn if callable(fn) else None


def parallel_codec(h: FrameHeader) -> Codec | None:
    """The table row whose imagecodecs decoder reads frame ``h``, or ``None`` for pydicom."""
    codec = CODECS.get(h.transfer_syntax)
    if (
        codec is None
        or h.samples_per_pixel != 1
        or h.photometric not in ("MONOCHROME1", "MONOCHROME2")
        or h.bits_allocated not in (8, 16)
        or not 1 <= h.bits_stored <= h.bits_allocated
        or h.pixel_offset is None
        or imagecodecs_function(codec) is None
    ):
        return None
    return codec


def stored_dtype(h: FrameHeader) -> np.dtype:
    """The dtype pydicom gives the stored values of a monochrome 8 or 16-bit frame."""
    kind = "i" if h.pixel_representation == 1 else "u"
    return np.dtype(f"{kind}{h.bits_allocated // 8}")


def decode_with_imagecodecs(codec: Codec, data: bytes, h: FrameHeader) -> np.ndarray:
    """Decode one encapsulated frame to stored values as pydicom would return them.

    JPEG-LS, lossless JPEG and RLE streams carry no sign: their values are the stored bit
    patterns, so signed frames are reinterpreted and sign-extended from BitsStored (as
    pydicom does). JPEG 2000 codestreams may carry a sign; the same rule leaves those
    values unchanged.
    """
    fn = imagecodecs_function(codec)
    assert fn is not None
    target = stored_dtype(h)
    unsigned = np.dtype(f"u{target.itemsize}")
    if codec.imagecodecs == "dicomrle_decode":
        # RLE segments hold the most significant byte first: imagecodecs returns raw bytes.
        raw = fn(data, np.dtype(f">u{target.itemsize}"))
        arr = np.frombuffer(raw, dtype=f">u{target.itemsize}")
        if arr.size != h.rows * h.columns:
            raise ValueError(f"RLE frame holds {arr.size} values, {h.rows * h.columns} expected")
        arr = arr.reshape(h.rows, h.columns).astype(unsigned)
    else:
        arr = np.asarray(fn(data))
    if arr.shape != (h.rows, h.columns):
        raise ValueError(
            f"decoded size {arr.shape} does not match Rows/Columns {(h.rows, h.columns)}"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(f"decoder returned {arr.dtype} values")
    # astype: an 8-bit codestream in 16-bit storage, for instance.
    arr = arr.view(unsigned) if arr.dtype.itemsize == target.itemsize else arr.astype(unsigned)
    if target.kind == "i":
        arr = arr.view(target)
        unused = 8 * target.itemsize - h.bits_stored
        if unused > 0:
            arr = np.left_shift(arr, unused)
            arr >>= unused
    return arr


@dataclass(frozen=True)
class Route:
    """What decodes one transfer syntax on this workstation (for ``voxrad doctor``)."""

    syntax: str
    name: str
    lossless: bool
    #: ``"imagecodecs <function>"`` or ``"pydicom (<plugins>)"``, or ``""`` when nothing can.
    decoder: str
    #: True when frames decode in parallel threads (the decoder releases the GIL).
    parallel: bool


def routes() -> list[Route]:
    """The decoder every syntax of :data:`CODECS` uses here, monochrome frames assumed."""
    out = []
    for codec in CODECS.values():
        if codec.syntax in NATIVE_LITTLE_ENDIAN:
            out.append(Route(codec.syntax, codec.name, True, "read from the file", True))
            continue
        if imagecodecs_function(codec) is not None:
            assert codec.imagecodecs is not None
            decoder = f"imagecodecs {codec.imagecodecs.removesuffix('_decode')}"
            out.append(Route(codec.syntax, codec.name, codec.lossless, decoder, True))
            continue
        out.append(
            Route(codec.syntax, codec.name, codec.lossless, _pydicom_plugins(codec.syntax), False)
        )
    return out


def _pydicom_plugins(syntax: str) -> str:
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return ""
    if not decoder.is_available:
        return ""
    plugins = sorted(decoder.available_plugins)
    # Uncompressed syntaxes (deflated, big endian) are decoded by pydicom itself.
    return f"pydicom ({', '.join(plugins)})" if plugins else "pydicom"
