"""From a question about a volume to a grounded answer, with any vision-language engine.

prepare the images (:mod:`~voxrad.assistant.request.imageprep`) -> build the family's prompt
(:mod:`~voxrad.assistant.request.prompts`) -> generate (a :class:`VisionLanguageModel`) -> parse
(:func:`~voxrad.assistant.reply.answers.parse_answer`) -> boxes back to the clinician's image
(:func:`~voxrad.assistant.request.imageprep.locate_findings`) -> confidence
(:func:`~voxrad.assistant.checks.confidence.assess`). Each stage's seconds go into
``Answer.timings``. Nothing here invents an answer: an empty or unreadable reply reaches the
clinician as such, with warnings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from voxrad.assistant.checks.confidence import answer_token_logprobs, assess
from voxrad.assistant.checks.safety import check_answer, with_safety
from voxrad.assistant.privacy.gate import BurnedInRisk, PrivacyPolicy, outgoing_request
from voxrad.assistant.reply.answers import parse_answer
from voxrad.assistant.request.imageprep import PreparedInput, locate_findings, prepare_question
from voxrad.assistant.request.prompts import ImagePart, Prompt, build_prompt
from voxrad.backends.vlm.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    ImageInput,
    TokenCallback,
    VisionLanguageModel,
)
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.core.families import ResizeRules
from voxrad.core.settings import VlmSettings
from voxrad.core.study import PatientIdentity
from voxrad.core.volume import Volume

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskOptions:
    max_tokens: int = 768
    temperature: float = 0.0
    #: Extra sampled answers for self-consistency (0: off).
    samples: int = 0
    sample_temperature: float = 0.7
    #: Most images a 3-D question sends (None: the family's limit).
    max_images: int | None = None
    seed: int = 0

    @classmethod
    def from_settings(
        cls,
        vlm: VlmSettings,
        *,
        max_tokens: int | None = None,
        samples: int | None = None,
        seed: int = 0,
    ) -> AskOptions:
        """The options the ``vlm`` settings give, so the app, ``voxrad ask`` and ``voxrad
        eval`` ask alike; ``max_tokens`` and ``samples`` override them (command-line flags)."""
        return cls(
            max_tokens=max_tokens or vlm.max_answer_tokens,
            temperature=vlm.temperature,
            samples=vlm.self_consistency_samples if samples is None else max(0, samples),
            sample_temperature=vlm.sample_temperature,
            seed=seed,
        )


def to_request(
    prompt: Prompt, prepared: PreparedInput, options: AskOptions, *, request_id: int = 0
) -> GenerationRequest:
    """The backend request for ``prompt``: its text and the prepared pixels, nothing else."""
    messages = []
    for message in prompt.messages:
        parts: list[str | ImageInput] = []
        for part in message.parts:
            if isinstance(part, ImagePart):
                parts.append(ImageInput(prepared.images[part.index].pixels))
            else:
                parts.append(part.text)
        messages.append(ChatMessage(message.role, tuple(parts)))
    return GenerationRequest(
        tuple(messages),
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        seed=options.seed,
        request_id=request_id,
    )


def image_resize_rules(model: object) -> ResizeRules:
    """Whose image resize ``model`` runs: an engine says so with ``image_resize`` (the
    llama.cpp engine does), an engine in a child process by its spec's backend; anything else
    is taken to use the Hugging Face processor's."""
    rules = getattr(model, "image_resize", None)
    if rules is None and getattr(getattr(model, "spec", None), "backend", None) == "llama-cpp":
        rules = "llama.cpp"
    return "llama.cpp" if rules == "llama.cpp" else "transformers"


def _interpret(
    result: GenerationResult,
    prepared: PreparedInput,
    family: str,
    max_tokens: int,
    resize: ResizeRules,
) -> Answer:
    parsed = parse_answer(result.text, family=family, image_size=prepared.image_size, resize=resize)
    located = locate_findings(parsed, prepared)
    if result.finish_reason == "complete":
        return located
    detail = result.finish_detail
    if result.finish_reason == "length" and not detail:
        detail = (
            f"it reached the longest answer allowed ({max_tokens} tokens, vlm.max_answer_tokens)."
        )
    cut = replace(located, finish_reason=result.finish_reason, finish_detail=detail)
    # The note leads the warnings: every place that lists warnings then shows it too.
    return replace(cut, warnings=(cut.cut_off_note, *cut.warnings))


def ask(
    model: VisionLanguageModel,
    volume: Volume,
    question: Question,
    *,
    family: str,
    model_name: str = "",
    history: Sequence[Turn] = (),
    options: AskOptions | None = None,
    on_token: TokenCallback | None = None,
    cancel: threading.Event | None = None,
    request_id: int = 0,
    identity: PatientIdentity | None = None,
    privacy: PrivacyPolicy | None = None,
    remote: bool = False,
    image_risk: BurnedInRisk | None = None,
    on_request_sent: Callable[[GenerationRequest], None] | None = None,
) -> Answer:
    """Ask ``model`` about ``question`` on ``volume`` and return the grounded answer.

    Every request leaves through :func:`~voxrad.assistant.privacy.gate.outgoing_request` (the one
    place that strips identifiers: ``identity`` names what to look for, ``remote`` says the
    engine is on another computer), and every answer gets the checks of
    :func:`~voxrad.assistant.checks.safety.check_answer` (laterality, boxes over air, slices the
    model did not see, confidence in words). ``on_request_sent`` receives the request exactly
    as it left (for the audit log).

    Raises
    ------
    PrivacyError
        The request may not leave (remote engine switched off, unmasked burned-in text).
    ImagePreparationError
        The slice or region is not in the image.
    GenerationCancelledError
        ``cancel`` was set.
    BackendError
        The engine failed (the hint says what to try).
    """
    options = options or AskOptions()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prepared = prepare_question(volume, question, family, max_images=options.max_images)
    prompt = build_prompt(question, prepared, family=family, history=history)
    request, outgoing = outgoing_request(
        to_request(prompt, prepared, options, request_id=request_id),
        identity,
        policy=privacy or PrivacyPolicy(),
        remote=remote,
        image_risk=image_risk,
    )
    timings["prepare"] = time.perf_counter() - t0
    if on_request_sent is not None:
        on_request_sent(request)

    result = model.generate(request, on_token=on_token, cancel=cancel)
    timings["generate"] = result.timings.get("generate", 0.0)
    if "first_token" in result.timings:
        timings["first_token"] = result.timings["first_token"]
    if "tokens_per_s" in result.timings:
        timings["tokens_per_s"] = result.timings["tokens_per_s"]

    t1 = time.perf_counter()
    resize = image_resize_rules(model)
    answer = _interpret(result, prepared, family, request.max_tokens, resize)
    timings["parse"] = time.perf_counter() - t1

    samples: list[Answer] = []
    if options.samples > 0:
        t2 = time.perf_counter()
        for k in range(options.samples):
            sampled = replace(
                request,
                temperature=options.sample_temperature,
                seed=options.seed + k + 1,
                want_logprobs=False,
            )
            extra = model.generate(sampled, cancel=cancel)
            samples.append(_interpret(extra, prepared, family, sampled.max_tokens, resize))
        timings["samples"] = time.perf_counter() - t2

    token_logprobs = None
    if result.token_logprobs:
        token_logprobs = answer_token_logprobs(result.tokens, result.token_logprobs) or None
    answer = assess(answer, token_logprobs=token_logprobs, samples=samples)
    sent = sorted({image.slice_index for image in prepared.images})
    answer = with_safety(answer, check_answer(answer, volume, sent))
    answer = replace(answer, seen_slices=tuple(sent))
    if outgoing.warnings:
        answer = answer.with_warnings(*outgoing.warnings)
    timings["total"] = time.perf_counter() - t0
    logger.info(
        "answered (%s): %d findings, confidence source %s, %.2f s",
        model_name or result.model,
        len(answer.findings),
        answer.confidence_source,
        timings["total"],
    )
    return replace(answer, model=model_name or result.model, timings={**answer.timings, **timings})
