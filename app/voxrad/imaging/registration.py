"""Put a prior study in register with the open one.

Three cases, decided in :func:`align_prior`:

* radiographs (one 2-D image, or CR/DX/...): no registration, shown side by side;
* the same FrameOfReferenceUID: patient positions already match (identity, said so);
* otherwise rigid registration with SimpleITK (Euler3D, Mattes mutual information,
  multi-resolution, bounded in time), checked after resampling. A result that does not fit is
  reported with ``ok=False`` and a message, never applied silently; :func:`landmark_alignment`
  is the manual fallback from one landmark pair.

SimpleITK is the ``compare`` extra; it is imported inside the functions that use it, and a
missing install raises :class:`~voxrad.core.errors.DependencyMissingError` with the hint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from voxrad.core.alignment import Alignment, RigidTransform
from voxrad.core.errors import DependencyMissingError
from voxrad.core.priors import PROJECTION_MODALITIES
from voxrad.core.volume import Volume
from voxrad.imaging.progress import CancelToken, check_cancel

if TYPE_CHECKING:
    import SimpleITK

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrationOptions:
    """How hard rigid registration tries, and what counts as a usable result.

    Both images are first averaged down to about ``working_spacing_mm`` (registration of two
    CTs does not need sub-millimetre voxels to reach sub-millimetre accuracy), then registered
    at ``shrink_factors`` of that grid, coarse to fine.
    """

    working_spacing_mm: float = 3.0
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas: tuple[float, ...] = (2.0, 1.0, 0.0)
    histogram_bins: int = 32
    #: Fraction of the working grid's voxels sampled by the metric at each iteration.
    sampling: float = 0.1
    iterations_per_level: int = 200
    #: Wall-clock bound for the optimisation; past it the result is reported as failed.
    max_seconds: float = 60.0
    #: Below this normalised cross-correlation after alignment, registration has failed.
    min_correlation: float = 0.5
    #: Below this fraction of the open study's body covered by the prior, it has failed.
    min_overlap: float = 0.5
    #: Regular-step gradient descent: first step (mm, or its equivalent in rotation), the
    #: step below which it has converged, and how much the step shrinks on each turn.
    learning_rate: float = 2.0
    min_step: float = 0.001
    relaxation: float = 0.8
    #: Fixed seed for the metric's random sampling: the same pair gives the same result.
    seed: int = 20240517


def _sitk() -> Any:
    try:
        import SimpleITK as sitk  # noqa: N813 (the name SimpleITK's own examples use)
    except ImportError as exc:
        raise DependencyMissingError(
            "Registration of prior studies (SimpleITK)", "compare"
        ) from exc
    return sitk


def _is_projection(volume: Volume) -> bool:
    return volume.is_single_image or volume.modality in PROJECTION_MODALITIES


def align_prior(
    current: Volume,
    prior: Volume,
    *,
    current_frame: str = "",
    prior_frame: str = "",
    options: RegistrationOptions | None = None,
    cancel: CancelToken | None = None,
) -> Alignment:
    """How to show ``prior`` beside ``current``: side by side (radiographs, colour images),
    same frame, or registered.

    ``current_frame`` and ``prior_frame`` are the series' FrameOfReferenceUIDs ("" when
    unknown: then positions cannot be trusted to match, and the volumes are registered).
    Raises :class:`~voxrad.core.errors.LoadCancelledError` when ``cancel`` is set and
    :class:`~voxrad.core.errors.DependencyMissingError` when registration is needed and
    SimpleITK is not installed.
    """
    if _is_projection(current) or _is_projection(prior):
        return Alignment(method="side_by_side", ok=True)
    if current.is_color or prior.is_color:
        return Alignment(
            method="side_by_side",
            ok=True,
            message="Colour images: shown side by side, not registered.",
        )
    if current_frame and current_frame == prior_frame:
        return Alignment(method="same_frame", ok=True)
    return register_rigid(current, prior, options=options, cancel=cancel)


def landmark_alignment(
    current_point: tuple[float, float, float] | np.ndarray,
    prior_point: tuple[float, float, float] | np.ndarray,
) -> Alignment:
    """Manual alignment from one landmark marked on both studies (LPS mm): a shift only, which
    is all one pair of points determines. The fallback when registration fails."""
    a = np.asarray(current_point, dtype=np.float64)
    b = np.asarray(prior_point, dtype=np.float64)
    if a.shape != (3,) or b.shape != (3,) or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("landmarks must be two finite LPS points")
    shift = RigidTransform.shift(b - a)
    return Alignment(
        method="landmark",
        ok=True,
        transform=shift,
        message=f"Aligned by hand from one landmark pair: shifted {shift.shift_mm:.1f} mm.",
    )


def to_sitk(volume: Volume) -> SimpleITK.Image:
    """The volume as a SimpleITK image with the same patient geometry (float32)."""
    sitk = _sitk()
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.voxels, dtype=np.float32))
    image.SetSpacing(volume.spacing_xyz)
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(float(v) for v in volume.direction_xyz.ravel()))
    return image


def _working(image: SimpleITK.Image, spacing_mm: float) -> SimpleITK.Image:
    """Average blocks of voxels down to about ``spacing_mm`` (a cheap anti-aliased resample)."""
    sitk = _sitk()
    factors = [max(1, round(spacing_mm / s)) for s in image.GetSpacing()]
    factors = [min(f, max(1, n // 8)) for f, n in zip(factors, image.GetSize(), strict=True)]
    return sitk.BinShrink(image, factors) if max(factors) > 1 else image


def _body(image: SimpleITK.Image) -> np.ndarray:
    """Foreground (body) mask by Otsu's threshold, as a [z, y, x] boolean array."""
    sitk = _sitk()
    mask = sitk.OtsuThreshold(image, 0, 1)
    return sitk.GetArrayViewFromImage(mask).astype(bool)


def _centre_of(image: SimpleITK.Image, mask: np.ndarray) -> np.ndarray:
    zyx = np.argwhere(mask)
    if len(zyx) == 0:
        size = np.asarray(image.GetSize(), dtype=float)
        return np.asarray(image.TransformContinuousIndexToPhysicalPoint((size - 1) / 2))
    mean_xyz = zyx.mean(axis=0)[::-1]
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(tuple(map(float, mean_xyz))))


def _as_rigid(transform: SimpleITK.Transform) -> RigidTransform:
    """Matrix and translation of any affine SimpleITK transform, read off by mapping points."""
    origin = np.asarray(transform.TransformPoint((0.0, 0.0, 0.0)))
    columns = [np.asarray(transform.TransformPoint(tuple(e))) - origin for e in np.eye(3)]
    return RigidTransform(np.stack(columns, axis=1), tuple(origin))


def _fit(
    fixed: SimpleITK.Image,
    moving: SimpleITK.Image,
    body: np.ndarray,
    transform: SimpleITK.Transform,
) -> tuple[float, float]:
    """Normalised cross-correlation over the fixed body inside the moved prior, and the
    fraction of the fixed body the prior covers, with ``transform`` applied."""
    sitk = _sitk()
    resampled = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    ones = sitk.Image(moving.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(moving)
    inside = sitk.Resample(ones, fixed, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    both = body & sitk.GetArrayViewFromImage(inside).astype(bool)
    overlap = float(both.sum()) / max(int(body.sum()), 1)
    if both.sum() < 100:
        return 0.0, overlap
    a = sitk.GetArrayViewFromImage(fixed)[both].astype(np.float64)
    b = sitk.GetArrayViewFromImage(resampled)[both].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return (float((a * b).sum()) / denominator if denominator > 0 else 0.0), overlap


def register_rigid(
    current: Volume,
    prior: Volume,
    *,
    options: RegistrationOptions | None = None,
    cancel: CancelToken | None = None,
) -> Alignment:
    """Rigid registration of ``prior`` (moving) to ``current`` (fixed).

    Initialised by matching the centres of the two bodies, then Euler3D with Mattes mutual
    information and a regular-step gradient descent, coarse to fine. The result is checked by
    resampling the prior with it: ``ok`` is False, with a message for the clinician, when the
    optimiser did not converge, ran past ``options.max_seconds``, or the aligned images
    correlate or overlap too little. Raises LoadCancelledError when ``cancel`` is set.
    """
    sitk = _sitk()
    opts = options or RegistrationOptions()
    start = time.perf_counter()
    fixed = _working(to_sitk(current), opts.working_spacing_mm)
    moving = _working(to_sitk(prior), opts.working_spacing_mm)
    check_cancel(cancel)
    body = _body(fixed)
    initial = sitk.Euler3DTransform()
    centre = _centre_of(fixed, body)
    initial.SetCenter(tuple(centre))
    initial.SetTranslation(tuple(_centre_of(moving, _body(moving)) - centre))

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=opts.histogram_bins)
    # Sample only the open study's body: the air around it says nothing about the fit.
    fixed_mask = sitk.GetImageFromArray(body.astype(np.uint8))
    fixed_mask.CopyInformation(fixed)
    method.SetMetricFixedMask(fixed_mask)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(opts.sampling, opts.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=opts.learning_rate,
        minStep=opts.min_step,
        numberOfIterations=opts.iterations_per_level,
        gradientMagnitudeTolerance=1e-6,
        relaxationFactor=opts.relaxation,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(opts.shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(opts.smoothing_sigmas))
    method.SetInitialTransform(initial, inPlace=False)

    state = {"iterations": 0, "timed_out": False}

    def on_iteration() -> None:
        state["iterations"] += 1
        if cancel is not None and cancel.is_set():
            method.StopRegistration()
        elif time.perf_counter() - start > opts.max_seconds:
            state["timed_out"] = True
            method.StopRegistration()

    method.AddCommand(sitk.sitkIterationEvent, on_iteration)
    try:
        found = method.Execute(fixed, moving)
    except RuntimeError as exc:
        # ITK stops with an exception when too few samples fall inside both images.
        logger.info("registration stopped by ITK: %s", str(exc).splitlines()[-1][:200])
        return _failed("the two studies hardly overlap where the registration looked", state, start)
    check_cancel(cancel)
    stop = method.GetOptimizerStopConditionDescription()
    metric = float(method.GetMetricValue())
    rigid = _as_rigid(found)
    correlation, overlap = _fit(fixed, moving, body, found)
    before, _ = _fit(fixed, moving, body, sitk.Euler3DTransform())
    seconds = time.perf_counter() - start
    logger.info(
        "registration: %d iterations, %.1f s, metric %.3f, correlation %.3f (before %.3f), "
        "overlap %.2f, rotation %.2f deg, shift %.1f mm, stop: %s",
        state["iterations"], seconds, metric, correlation, before, overlap,
        rigid.rotation_degrees, rigid.shift_mm, stop,
    )  # fmt: skip
    reason = ""
    if state["timed_out"]:
        reason = f"it did not finish within {opts.max_seconds:.0f} s"
    elif "Maximum number of iterations" in stop:
        reason = "it did not converge"
    elif overlap < opts.min_overlap:
        reason = f"the aligned studies overlap too little ({overlap:.0%} of the body)"
    elif correlation < opts.min_correlation:
        reason = f"the aligned images do not match well (correlation {correlation:.2f})"
    common = {
        "metric": metric,
        "correlation": correlation,
        "correlation_before": before,
        "overlap": overlap,
        "iterations": state["iterations"],
        "seconds": seconds,
    }
    if reason:
        return Alignment(
            method="failed",
            ok=False,
            message=f"Automatic registration failed: {reason}. Align the studies by hand "
            "from a landmark marked on both.",
            **common,  # type: ignore[arg-type]
        )
    return Alignment(
        method="registered",
        ok=True,
        transform=rigid,
        message=f"Registered automatically (rigid): correlation {correlation:.2f} after "
        f"alignment ({before:.2f} before), rotation {rigid.rotation_degrees:.1f} degrees, "
        f"shift {rigid.shift_mm:.0f} mm.",
        **common,  # type: ignore[arg-type]
    )


def _failed(reason: str, state: dict[str, Any], start: float) -> Alignment:
    return Alignment(
        method="failed",
        ok=False,
        message=f"Automatic registration failed: {reason}. Align the studies by hand from a "
        "landmark marked on both.",
        iterations=int(state["iterations"]),
        seconds=time.perf_counter() - start,
    )
