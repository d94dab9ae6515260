"""What the evaluation asks of a model: one question about one image, one :class:`Answer`.

The harness depends only on the small :class:`Answerer` protocol, so it runs the same on the
real engine (:class:`EngineAnswerer`, built from the model catalog and the app's own answer
path) and on scripted answers in tests. Latency is measured by the harness around
:meth:`Answerer.answer`, so it includes everything the clinician would wait for.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from voxrad.core.conversation import Answer, Box, Question
from voxrad.core.errors import ModelNotInstalledError
from voxrad.core.volume import Volume

if TYPE_CHECKING:
    from voxrad.core.settings import Settings

logger = logging.getLogger(__name__)


@runtime_checkable
class Answerer(Protocol):
    """Answers a question about an RGB image; boxes come back in that image's pixels."""

    name: str

    def answer(self, question: str, image: np.ndarray, *, region: Box | None = None) -> Answer:
        """The answer to ``question`` about ``image`` ((H, W, 3) uint8), optionally a region."""
        ...

    def close(self) -> None:
        """Free the model; safe to call twice."""
        ...


def image_volume(image: np.ndarray) -> Volume:
    """An RGB dataset image as the single-slice colour volume the app's answer path takes.

    Colour volumes are passed to the model unwindowed, so the model sees the dataset's pixels
    (then fitted to its input size by the family's own rule).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 pixels, got {image.shape} {image.dtype}")
    return Volume(
        voxels=np.ascontiguousarray(image[None, ...]),
        spacing=(1.0, 1.0, 1.0),
        direction=np.eye(3)[:, ::-1].copy(),
        photometric="RGB",
        spacing_calibrated=False,
    )


class EngineAnswerer:
    """The installed model, asked exactly as the app asks it.

    Each question goes through :func:`voxrad.assistant.answering.ask` (image preparation, the
    family's prompt, generation, parsing, boxes back to image pixels, confidence by the rule of
    :mod:`voxrad.assistant.checks.confidence`) with the app's settings: temperature,
    self-consistency samples and answer length come from ``settings.vlm``, so the confidence
    measured here is the one a clinician is shown. The seed is fixed per run.
    """

    def __init__(self, model: Any, family: str, options: Any, *, name: str = "") -> None:
        self._model = model
        self.family = family
        self.options = options
        self.name = name or str(getattr(model, "name", "") or family)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        model: str | None = None,
        backend: str | None = None,
        seed: int = 0,
    ) -> EngineAnswerer:
        """Load the model named ``model`` on ``backend`` (defaults: those in the settings).

        Raises
        ------
        ModelNotInstalledError
            When the model's files are not installed or this build has no model engine.
        """
        try:
            from voxrad.assistant.answering import AskOptions
            from voxrad.backends.vlm.registry import create_vlm, resolve_model
        except ImportError as exc:
            raise ModelNotInstalledError(
                "The vision-language model engine is not installed in this VoxRad build, so "
                "there is no model to evaluate.",
                hint="Install VoxRad with its model engine (pip install 'voxrad[llama]') and a "
                "model (`voxrad models pull NAME`).",
            ) from exc
        vlm = settings.vlm
        if model:
            vlm = vlm.model_copy(update={"model": model})
        if backend:
            vlm = vlm.model_copy(update={"backend": backend})
        # Resolving first makes "not installed" quick and clear, before anything heavy loads.
        spec = resolve_model(vlm, settings.models.resolved_directory())
        engine = create_vlm(spec, vlm, settings.privacy)
        engine.load()
        logger.info("evaluating model %s (family %s)", spec.name, spec.family)
        options = AskOptions.from_settings(vlm, seed=seed)
        return cls(engine, spec.family, options, name=spec.name)

    def answer(self, question: str, image: np.ndarray, *, region: Box | None = None) -> Answer:
        from voxrad.assistant.answering import ask

        asked = Question(question, slice_index=0, region=region)
        return ask(
            self._model,
            image_volume(image),
            asked,
            family=self.family,
            model_name=self.name,
            options=self.options,
        )

    def close(self) -> None:
        self._model.close()
