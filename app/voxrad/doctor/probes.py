"""The probes ``voxrad doctor`` runs, in report order, with their time limits."""

from __future__ import annotations

from functools import partial

from voxrad.doctor.audio import check_audio, check_tts, check_wake
from voxrad.doctor.check import Check
from voxrad.doctor.gpu import check_gpu
from voxrad.doctor.graphics import check_opengl
from voxrad.doctor.imaging import check_dicom_decoders
from voxrad.doctor.runner import Probe, run_probes
from voxrad.doctor.storage import check_disk, check_folders, check_models
from voxrad.doctor.system import (
    check_cpu,
    check_installation,
    check_memory,
    check_os,
    check_python,
)

#: Child-process probes give up a little before the runner does, so their own, more
#: precise message ("the OpenGL driver did not answer") wins over the generic timeout.
CHILD_TIMEOUT = 10.0
_MARGIN = 2.0


def default_probes() -> list[Probe]:
    """Every workstation probe, in the order the report lists them."""
    child = CHILD_TIMEOUT + _MARGIN
    return [
        Probe("voxrad", check_installation, 5.0),
        Probe("os", check_os, 5.0),
        Probe("python", check_python, 5.0),
        Probe("cpu", check_cpu, 5.0),
        Probe("memory", check_memory, 5.0),
        Probe("gpu", partial(check_gpu, timeout=5.0), child),
        Probe("opengl", partial(check_opengl, timeout=CHILD_TIMEOUT), child),
        Probe("audio", partial(check_audio, timeout=CHILD_TIMEOUT), child),
        Probe("tts", partial(check_tts, timeout=CHILD_TIMEOUT), child),
        Probe("wake", check_wake, 5.0),
        Probe("models", check_models, 10.0),
        Probe("dicom", check_dicom_decoders, 10.0),
        Probe("disk", check_disk, 5.0),
        Probe("folders", check_folders, 5.0),
    ]


def run_doctor() -> list[Check]:
    """Run every probe and return the checks in report order."""
    return run_probes(default_probes())
