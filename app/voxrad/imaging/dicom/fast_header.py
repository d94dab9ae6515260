"""A minimal reader for the top-level header of little-endian DICOM files.

Why: the header scan is most of the time it takes to open a study, and pydicom builds an
object for every element of every file, sequences included. This reader walks the elements
with ``struct``, keeps only the attributes VoxRad uses (as pydicom ``RawDataElement``s, so
pydicom still converts the values) and skips everything else by length. Anything unusual
returns ``None`` and the caller falls back to pydicom: big endian and deflated syntaxes, no
preamble, a header longer than the bytes given, the functional-group sequences of enhanced
multi-frame objects, or any malformed length.
"""

from __future__ import annotations

import struct

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag

_LONG_VRS = frozenset(
    {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UN", b"UT", b"UC", b"UR", b"SV", b"UV"}
)
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_IMPLICIT = "1.2.840.10008.1.2"
# Big endian and deflated data cannot be walked byte by byte here.
_UNSUPPORTED = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_TAG = struct.Struct("<HH")


class _FallbackError(Exception):
    """The bytes are not what this reader handles; pydicom will parse the file."""


def tags_of(keywords: tuple[str, ...]) -> frozenset[int]:
    """The integer tags of DICOM keywords (unknown keywords are ignored)."""
    out = set()
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is not None:
            out.add(int(tag))
    return frozenset(out)


def parse_header(
    data: bytes, wanted: frozenset[int], fallback_if_present: frozenset[int], *, complete: bool
) -> tuple[Dataset, int | None] | None:
    """Parse the header in ``data`` (the start of a file); None when pydicom must do it.

    ``wanted`` are the top-level tags to keep; ``fallback_if_present`` are tags (such as
    per-frame functional groups) that need pydicom's full parse. ``complete`` says whether
    ``data`` is the whole file: only then can the absence of pixel data be concluded.
    Returns the dataset and the offset of the pixel-data tag (None: no pixel data).
    """
    try:
        return _parse(data, wanted, fallback_if_present, complete)
    except (_FallbackError, struct.error, UnicodeDecodeError):
        return None


def _parse(
    data: bytes, wanted: frozenset[int], fallback_if_present: frozenset[int], complete: bool
) -> tuple[Dataset, int | None]:
    if len(data) < 144 or data[128:132] != b"DICM":
        raise _FallbackError
    pos = 132
    meta: dict[BaseTag, DataElement | RawDataElement] = {}
    end = len(data)
    # File meta group: always explicit VR little endian.
    while pos + 8 <= end:
        group, elem = _TAG.unpack_from(data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            length = _U32.unpack_from(data, pos + 8)[0]
            start = pos + 12
        else:
            length = _U16.unpack_from(data, pos + 6)[0]
            start = pos + 8
        if length == _UNDEFINED or start + length > end:
            raise _FallbackError
        tag = BaseTag((group << 16) | elem)
        meta[tag] = RawDataElement(
            tag, vr.decode("ascii"), length, data[start : start + length], start, False, True
        )
        pos = start + length
    syntax_raw = meta.get(BaseTag(0x00020010))
    if syntax_raw is None or not isinstance(syntax_raw.value, bytes):
        raise _FallbackError
    syntax = syntax_raw.value.rstrip(b"\x00 ").decode("ascii")
    if syntax in _UNSUPPORTED:
        raise _FallbackError
    implicit = syntax == _IMPLICIT

    elements: dict[BaseTag, DataElement | RawDataElement] = {}
    pixel_offset: int | None = None
    while True:
        if pos + 8 > end:
            if pos >= end and complete:
                break  # the whole file was read and holds no pixel data
            raise _FallbackError
        group, elem = _TAG.unpack_from(data, pos)
        tag = (group << 16) | elem
        if tag in _PIXEL_TAGS:
            pixel_offset = pos
            break
        if tag in fallback_if_present:
            raise _FallbackError
        vr, length, start = _element_header(data, pos, implicit)
        if length == _UNDEFINED:
            # An undefined-length UN holds an implicit VR sequence (PS3.5 6.2.2).
            pos = _skip_sequence(data, start, implicit or vr == b"UN")
            continue
        if start + length > end:
            raise _FallbackError
        if tag in wanted:
            btag = BaseTag(tag)
            elements[btag] = RawDataElement(
                btag,
                None if implicit else vr.decode("ascii"),
                length,
                data[start : start + length],
                start,
                implicit,
                True,
            )
        pos = start + length

    ds = Dataset(elements)
    ds.file_meta = FileMetaDataset(meta)
    ds.set_original_encoding(implicit, True, None)
    return ds, pixel_offset


def _element_header(data: bytes, pos: int, implicit: bool) -> tuple[bytes, int, int]:
    """VR (empty when implicit), value length and value start of the element at ``pos``."""
    if implicit:
        return b"", _U32.unpack_from(data, pos + 4)[0], pos + 8
    vr = data[pos + 4 : pos + 6]
    if vr in _LONG_VRS:
        return vr, _U32.unpack_from(data, pos + 8)[0], pos + 12
    if vr.isalpha() and vr.isupper():
        return vr, _U16.unpack_from(data, pos + 6)[0], pos + 8
    raise _FallbackError


def _skip_sequence(data: bytes, pos: int, implicit: bool) -> int:
    """Position just after an undefined-length sequence that starts at ``pos``."""
    end = len(data)
    while pos + 8 <= end:
        group, elem = _TAG.unpack_from(data, pos)
        tag = (group << 16) | elem
        length = _U32.unpack_from(data, pos + 4)[0]
        if tag == _SEQ_END:
            return pos + 8
        if tag != _ITEM:
            raise _FallbackError
        if length != _UNDEFINED:
            pos += 8 + length
        else:
            pos = _skip_item(data, pos + 8, implicit)
    raise _FallbackError


def _skip_item(data: bytes, pos: int, implicit: bool) -> int:
    """Position just after an undefined-length item whose elements start at ``pos``."""
    end = len(data)
    while pos + 8 <= end:
        group, elem = _TAG.unpack_from(data, pos)
        tag = (group << 16) | elem
        if tag == _ITEM_END:
            return pos + 8
        vr, length, start = _element_header(data, pos, implicit)
        if length == _UNDEFINED:
            pos = _skip_sequence(data, start, implicit or vr == b"UN")
        else:
            pos = start + length
    raise _FallbackError
