"""Printing helpers shared by subcommands: JSON for machines, aligned text for people."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def progress_printer(enabled: bool):  # type: ignore[no-untyped-def]
    """A progress callback drawing one line on stderr, or None when stderr is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, stage: str) -> None:
        sys.stderr.write(f"\r{stage} {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\r" + " " * 40 + "\r")
        sys.stderr.flush()

    return show
