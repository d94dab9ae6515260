"""The one place that builds what leaves VoxRad for a model: pixels and the question, no more.

Every :class:`~voxrad.backends.vlm.base.GenerationRequest` goes through
:func:`outgoing_request` before any backend sees it. That function

* refuses a remote backend unless IT switched remote backends on;
* scrubs every text part (question, replayed history, prompt) of the study's identifiers
  (:class:`~voxrad.core.study.PatientIdentity`: names, IDs, birth date, accession number,
  institution) and of anything that looks like one (dates, record numbers, UIDs, phone
  numbers, e-mail addresses), because a spoken question can carry them;
* masks the top and bottom text bands of images that may carry burned-in annotations, and
  refuses to send such images to a remote server unmasked until the clinician confirms;
* checks the result once more and raises rather than send an identifier.

Nothing here logs text; only counts of what was removed are logged, at INFO.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from voxrad.assistant.privacy.scrubbing import Scrubber, scrub_text
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.core.errors import VoxRadError
from voxrad.core.study import PatientIdentity

if TYPE_CHECKING:
    from voxrad.core.settings import PrivacySettings

logger = logging.getLogger(__name__)

#: SOP classes whose images usually carry text in the pixels: ultrasound (single, multi-frame,
#: enhanced volume) and every secondary capture class (1.2.840.10008.5.1.4.1.1.7.x).
ULTRASOUND_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",
        "1.2.840.10008.5.1.4.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.6.2",
    }
)
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
#: Modalities whose images usually carry text: ultrasound, secondary capture, other, external
#: camera photography, endoscopy.
TEXT_PRONE_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES"})


class PrivacyError(VoxRadError):
    """Something would have left VoxRad that must not."""

    default_hint = "Nothing was sent. Ask IT to report this to VoxRad's developers."


class RemoteBackendDisabledError(PrivacyError):
    """A remote model server was asked for while remote backends are switched off."""

    default_hint = (
        "Use a local model, or ask IT to switch on privacy.allow_remote_backends for the site "
        "server."
    )


class BurnedInTextError(PrivacyError):
    """An image that may show patient text in its pixels would go to a remote server unmasked."""

    default_hint = (
        "Turn on masking of text bands in the privacy settings, use a local model, or confirm "
        "that the image shows no patient details."
    )


@dataclass(frozen=True)
class PrivacyPolicy:
    """The privacy settings that shape outgoing requests.

    ``text_band_fraction`` is the share of the image height masked at the top and at the
    bottom of images flagged by :func:`burned_in_risk` (where ultrasound machines and screen
    captures print names, IDs and dates).
    """

    allow_remote: bool = False
    mask_text_bands: bool = True
    text_band_fraction: float = 0.12

    @classmethod
    def from_settings(cls, settings: PrivacySettings) -> PrivacyPolicy:
        """The policy from the ``privacy`` settings section (fields it lacks keep defaults)."""
        defaults = cls()
        return cls(
            allow_remote=bool(settings.allow_remote_backends),
            mask_text_bands=bool(getattr(settings, "mask_text_bands", defaults.mask_text_bands)),
            text_band_fraction=float(
                getattr(settings, "text_band_fraction", defaults.text_band_fraction)
            ),
        )


class LogRedactor(logging.Filter):
    """A logging filter that removes the open study's identifiers from records above DEBUG.

    Modules never log patient data above DEBUG; this is the second line of defence for a
    slip (an exception message quoting a file path named after the patient, say). Install it
    on every handler (``main.configure_logging``) and call :meth:`set_identity` when a study
    is opened or closed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._scrubber = Scrubber((), 0)

    def set_identity(self, identity: PatientIdentity | None) -> None:
        self._scrubber = Scrubber.for_identity(identity).own_only()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG or not self._scrubber.patterns:
            return True
        clean, counts = self._scrubber.scrub(record.getMessage())
        if counts:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrubber.scrub(record.exc_text)[0]
        return True


_REDACTOR = LogRedactor()


def log_redactor() -> LogRedactor:
    """The process's one redactor: ``main.configure_logging`` puts it on every handler, and
    whoever opens a study tells it whose identifiers to remove."""
    return _REDACTOR


# -- burned-in text ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BurnedInRisk:
    """Whether an image may show identifiers in its pixels, and why (in words)."""

    flagged: bool
    reasons: tuple[str, ...] = ()


def burned_in_risk(
    *, burned_in_annotation: bool | None, sop_class_uid: str = "", modality: str = ""
) -> BurnedInRisk:
    """Flag images that may carry burned-in text.

    Parameters
    ----------
    burned_in_annotation
        The header's BurnedInAnnotation: True for "YES", False for "NO", None when absent.
    sop_class_uid, modality
        Ultrasound and secondary-capture classes (and text-prone modalities) are flagged
        whatever BurnedInAnnotation says: devices often leave it unset or wrong.
    """
    reasons: list[str] = []
    if burned_in_annotation:
        reasons.append("the image header says it has burned-in annotations")
    if sop_class_uid in ULTRASOUND_SOP_CLASSES or modality.upper() == "US":
        reasons.append("ultrasound images usually show patient details in the image")
    elif sop_class_uid.startswith(SECONDARY_CAPTURE_PREFIX) or modality.upper() in (
        TEXT_PRONE_MODALITIES
    ):
        reasons.append("screen captures and photographs often show patient details")
    return BurnedInRisk(bool(reasons), tuple(reasons))


def text_band_mask(height: int, width: int, fraction: float) -> np.ndarray:
    """Boolean (height, width) mask of the top and bottom ``fraction`` of the rows."""
    band = int(np.ceil(height * min(max(fraction, 0.0), 0.5)))
    mask = np.zeros((height, width), dtype=bool)
    if band:
        mask[:band] = True
        mask[height - band :] = True
    return mask


def mask_text_bands(pixels: np.ndarray, fraction: float) -> np.ndarray:
    """A copy of ``pixels`` (H, W[, C]) with the text bands set to black."""
    out = np.array(pixels, copy=True)
    out[text_band_mask(out.shape[0], out.shape[1], fraction)] = 0
    return out


# -- the outgoing request ------------------------------------------------------------------------
@dataclass(frozen=True)
class OutgoingReport:
    """What :func:`outgoing_request` changed: counts per identifier kind, masked images."""

    removed: dict[str, int] = field(default_factory=dict)
    masked_images: int = 0
    warnings: tuple[str, ...] = ()


def remote_notice(host: str) -> str:
    """The banner the UI shows while a remote backend is on (a clinician must always know)."""
    return f"Images and questions are sent to the site server {host}, not kept on this computer."


def outgoing_request(
    request: GenerationRequest,
    identity: PatientIdentity | None,
    *,
    policy: PrivacyPolicy,
    remote: bool,
    image_risk: BurnedInRisk | None = None,
    confirmed_burned_in: bool = False,
) -> tuple[GenerationRequest, OutgoingReport]:
    """The request as it may leave VoxRad, and what was removed from it.

    Raises
    ------
    RemoteBackendDisabledError
        ``remote`` while the policy does not allow remote backends.
    BurnedInTextError
        ``remote``, images flagged by ``image_risk``, masking off, and not confirmed.
    PrivacyError
        A study identifier survived scrubbing (never expected; nothing is sent).
    """
    if remote and not policy.allow_remote:
        raise RemoteBackendDisabledError(
            "Sending images to a model server on another computer is switched off."
        )
    scrubber = Scrubber.for_identity(identity)
    removed: Counter[str] = Counter()
    masked = 0
    mask = bool(image_risk and image_risk.flagged and policy.mask_text_bands)
    warnings: list[str] = []
    if image_risk and image_risk.flagged:
        if remote and not mask and not confirmed_burned_in:
            raise BurnedInTextError(
                "This image may show patient details in its pixels ("
                + "; ".join(image_risk.reasons)
                + ")."
            )
        warnings.append(
            "Text bands were masked: " + "; ".join(image_risk.reasons) + "."
            if mask
            else "The image may show patient details in its pixels."
        )
    messages: list[ChatMessage] = []
    for message in request.messages:
        parts: list[str | ImageInput] = []
        for part in message.parts:
            if isinstance(part, str):
                clean, counts = scrubber.scrub(part)
                removed.update(counts)
                parts.append(clean)
            elif mask:
                parts.append(ImageInput(mask_text_bands(part.pixels, policy.text_band_fraction)))
                masked += 1
            else:
                parts.append(part)
        messages.append(ChatMessage(message.role, tuple(parts)))
    cleaned = replace(request, messages=tuple(messages))
    leaked = scrubber.leaks("\n".join(m.text for m in cleaned.messages))
    if leaked:
        raise PrivacyError(f"A patient identifier ({', '.join(leaked)}) was about to be sent.")
    if removed or masked:
        logger.info(
            "outgoing request %d: removed %s, masked %d images",
            request.request_id,
            dict(sorted(removed.items())),
            masked,
        )
    return cleaned, OutgoingReport(dict(removed), masked, tuple(warnings))


__all__ = [
    "BurnedInRisk",
    "BurnedInTextError",
    "LogRedactor",
    "OutgoingReport",
    "PrivacyError",
    "PrivacyPolicy",
    "RemoteBackendDisabledError",
    "Scrubber",
    "burned_in_risk",
    "log_redactor",
    "mask_text_bands",
    "outgoing_request",
    "remote_notice",
    "scrub_text",
    "text_band_mask",
]
