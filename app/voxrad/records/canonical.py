"""Canonical JSON and the hashes the audit log is chained with.

One encoding, byte for byte the same on every platform and Python version VoxRad supports:
keys sorted, no whitespace, UTF-8, no NaN or infinity (they have no JSON spelling). An auditor
can re-derive every hash of an exported log with any JSON library that does the same.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

#: The hash of "no previous record", which the first record of a log chains to.
GENESIS = "0" * 64


def _plain(value: Any) -> Any:
    """Values JSON can hold exactly: numpy scalars to Python, tuples to lists, floats checked."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        # NaN/inf have no JSON spelling; None keeps the record writable and honest.
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, compact separators, UTF-8)."""
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def chain_hash(previous: str, body: str) -> str:
    """SHA-256 (hex) of the previous record's hash, a newline, and this record's body."""
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


def salted_uid(uid: str, salt: bytes) -> str:
    """A DICOM UID as a keyed hash (HMAC-SHA-256, hex): equal UIDs match on one installation,
    but the UID cannot be read back or matched against another site's log."""
    if not uid:
        return ""
    return hmac.new(salt, uid.encode("ascii", errors="replace"), hashlib.sha256).hexdigest()


def pixel_digest(images: Iterable[np.ndarray]) -> str:
    """SHA-256 (hex) over the images' shapes, dtypes and bytes, in order.

    The images are the ones a model was shown, so the digest pins exactly what it saw.
    """
    h = hashlib.sha256()
    for image in images:
        array = np.ascontiguousarray(image)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()
