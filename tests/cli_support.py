"""Run the real `voxrad` command in a subprocess, as a user or IT script would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_voxrad(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m voxrad ARGS`` with VOXRAD_HOME set to ``home``; output captured as text."""
    env = {**os.environ, "VOXRAD_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "voxrad", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
