"""How a prior study lines up with the open one: a rigid transform between their patient
coordinates, how it was found, and how well it fits.

Convention (the one SimpleITK's registration uses, with the open study as the fixed image):
:meth:`RigidTransform.apply` maps a point in the **open (current) study's** patient LPS
coordinates, in mm, to the point of the same anatomy in the **prior study's** LPS coordinates.
Linked views use it to show the prior at the place the clinician is looking at in the current.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: How the two studies were put in register, in the words the viewer shows.
METHOD_TEXT = {
    "same_frame": "Same frame of reference: positions match directly, no registration.",
    "registered": "Registered automatically (rigid).",
    "landmark": "Aligned by hand from one landmark pair (shift only).",
    "side_by_side": "Radiographs: shown side by side, not registered.",
    "failed": "Automatic registration failed: the studies are not aligned.",
}


@dataclass(frozen=True, eq=False)
class RigidTransform:
    """``p_prior = matrix @ p_current + translation`` (mm, LPS); ``matrix`` is a rotation."""

    matrix: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, dtype=np.float64)
        if m.shape != (3, 3):
            raise ValueError("matrix must be 3x3")
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "translation", tuple(float(t) for t in self.translation))

    @classmethod
    def identity(cls) -> RigidTransform:
        return cls()

    @classmethod
    def shift(cls, offset: tuple[float, float, float] | np.ndarray) -> RigidTransform:
        """A translation only (what one landmark pair determines)."""
        return cls(np.eye(3), tuple(float(v) for v in np.asarray(offset, dtype=float)))  # type: ignore[arg-type]

    def apply(self, points: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Map one LPS point, or an ``(N, 3)`` array of them, from current to prior."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.matrix.T + np.asarray(self.translation)

    def inverse(self) -> RigidTransform:
        """Prior to current."""
        back = self.matrix.T
        return RigidTransform(back, tuple(-(back @ np.asarray(self.translation))))

    @property
    def rotation_degrees(self) -> float:
        """The angle of the rotation about its axis, in degrees (0 for a pure shift)."""
        cos = (float(np.trace(self.matrix)) - 1.0) / 2.0
        return math.degrees(math.acos(max(-1.0, min(1.0, cos))))

    @property
    def shift_mm(self) -> float:
        """Length of the translation, in mm."""
        return float(np.linalg.norm(self.translation))

    def to_list(self) -> list[list[float]]:
        """4x4 homogeneous matrix as nested lists (for JSON records)."""
        out = np.eye(4)
        out[:3, :3] = self.matrix
        out[:3, 3] = self.translation
        return [[float(v) for v in row] for row in out]


@dataclass(frozen=True)
class Alignment:
    """The result of aligning a prior with the open study.

    ``ok`` is False when automatic registration did not give a usable result: ``message`` then
    says so in words for the clinician and ``transform`` is the identity (nothing is silently
    applied). ``metric`` is the optimiser's final Mattes mutual information (negative: lower is
    better); ``correlation`` the normalised cross-correlation of the two images over their
    overlap after resampling the prior with ``transform`` (1 is a perfect match), with
    ``correlation_before`` the same without it; ``overlap`` the fraction of the open study's
    body that the prior covers after alignment.
    """

    method: str
    ok: bool
    transform: RigidTransform = field(default_factory=RigidTransform.identity)
    message: str = ""
    metric: float | None = None
    correlation: float | None = None
    correlation_before: float | None = None
    overlap: float | None = None
    iterations: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHOD_TEXT:
            raise ValueError(f"unknown alignment method {self.method!r}")
        if not self.message:
            object.__setattr__(self, "message", METHOD_TEXT[self.method])
