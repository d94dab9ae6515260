"""The pipeline's :class:`~voxrad.assistant.turns.Answerer` over a real vision-language engine.

Resolving the model (catalog name or file), creating the engine and loading it all happen in
:meth:`ModelAnswerer.load`, which the pipeline calls on its model thread, so a missing model
becomes a message on the first question instead of a crash at start-up, and the engine
(llama.cpp context, CUDA state) lives on that one thread.

The raw token stream holds the model's reasoning and box syntax, which must not be read
aloud: :class:`~voxrad.assistant.answer_stream.AnswerTextFilter` passes only the answer
proper to ``on_answer_text``, so the first sentence is spoken while the model still writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from voxrad.assistant.answer_stream import AnswerTextFilter
from voxrad.assistant.answering import AskOptions, ask
from voxrad.assistant.privacy import PrivacyPolicy
from voxrad.backends.vlm.base import VisionLanguageModel
from voxrad.backends.vlm.registry import ModelSpec, create_vlm, resolve_model
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.core.errors import BackendError
from voxrad.core.settings import PrivacySettings, VlmSettings
from voxrad.core.volume import Volume

logger = logging.getLogger(__name__)

EngineFactory = Callable[[ModelSpec, VlmSettings, PrivacySettings], VisionLanguageModel]


class ModelAnswerer:
    """Answers questions with the model named in the ``vlm`` settings.

    Parameters
    ----------
    settings, privacy
        The ``vlm`` and ``privacy`` settings sections.
    models_dir
        Where installed models are (``settings.models.resolved_directory()``).
    engine_factory
        Builds the engine for a resolved model; defaults to the registry's
        :func:`~voxrad.backends.vlm.registry.create_vlm`.
    """

    def __init__(
        self,
        settings: VlmSettings,
        models_dir: Path,
        *,
        privacy: PrivacySettings | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self.privacy = privacy or PrivacySettings()
        self._engine_factory = engine_factory or create_vlm
        self._model: VisionLanguageModel | None = None
        self._spec: ModelSpec | None = None
        self.name = settings.model
        self._requests = 0

    def load(self) -> None:
        """Resolve, create and load the engine (ModelNotInstalledError, BackendError)."""
        spec = resolve_model(self.settings, self.models_dir)
        model = self._engine_factory(spec, self.settings, self.privacy)
        model.load()
        self._spec, self._model = spec, model
        self.name = spec.name

    def answer(
        self,
        question: Question,
        volume: Volume,
        *,
        history: Sequence[Turn] = (),
        on_token: Callable[[str], None] | None = None,
        on_answer_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """Answer through :func:`voxrad.assistant.answering.ask`."""
        if self._model is None or self._spec is None:
            raise BackendError("The model is not loaded.", hint="Ask again in a moment.")
        self._requests += 1
        s = self.settings
        options = AskOptions(
            max_tokens=s.max_answer_tokens,
            temperature=s.temperature,
            samples=s.self_consistency_samples,
            sample_temperature=s.sample_temperature,
        )
        stream = AnswerTextFilter(self._spec.family)

        def token(piece: str) -> None:
            if on_token is not None:
                on_token(piece)
            speakable = stream.feed(piece)
            if speakable and on_answer_text is not None:
                on_answer_text(speakable)

        return ask(
            self._model,
            volume,
            question,
            family=self._spec.family,
            model_name=self._spec.name,
            history=history,
            options=options,
            on_token=token,
            cancel=cancel,
            request_id=self._requests,
            privacy=PrivacyPolicy.from_settings(self.privacy),
            remote=bool(getattr(self._model, "is_remote", False)),
        )

    def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.close()
