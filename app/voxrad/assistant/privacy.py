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
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

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

_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_SEP = r"[\s\-_./:#]*"
#: Generic patterns, applied whether or not the study's identity is known. Order matters:
#: the longest forms (UIDs, labelled numbers) go first.
_GENERIC: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")),
    ("uid", re.compile(r"\b\d{1,10}(?:\.\d{1,20}){4,40}\b")),
    (
        "id",
        re.compile(
            r"\b(?:mrn|medical record(?: number)?|patient(?: id| number)|hospital number|"
            r"accession(?: number| no)?|nhs number|ssn|social security(?: number)?)"
            r"(?:\s{0,3}(?:is|was|number|no\.?|#|:)){0,2}\s{0,3}[A-Z0-9][A-Z0-9\-/.]{1,30}",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b|"
            rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s{{1,3}}(?:of\s{{1,3}})?(?:{_MONTHS})\.?,?\s{{1,3}}\d{{4}}\b|"
            rf"\b(?:{_MONTHS})\.?\s{{1,3}}\d{{1,2}}(?:st|nd|rd|th)?,?\s{{1,3}}\d{{4}}\b",
            re.IGNORECASE,
        ),
    ),
    (
        "phone",
        re.compile(r"(?<![\w.])(?:\+\d[\d \-]{7,16}\d|\(?\d{3}\)?[ \-.]\d{3}[ \-.]\d{4})(?![\w.])"),
    ),
    ("id", re.compile(r"(?<![\w.])\d{6,}(?![\w.])")),
)
#: Name parts too common to remove on their own (titles, suffixes); full names still go.
_NAME_STOPWORDS = frozenset({"DR", "MR", "MRS", "MS", "MISS", "PROF", "JR", "SR", "II", "III"})


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


# -- scrubbing text ------------------------------------------------------------------------------
def _flexible(value: str) -> str | None:
    """A pattern for an ID however it is written or spoken: any separators between characters
    ("CAN-12/3", "can 1 2 3"); None when the value is too short to match safely."""
    chars = [c for c in value if c.isalnum()]
    if len(chars) < 4:
        return None
    return _SEP.join(re.escape(c) for c in chars)


def _date_variants(dicom_date: str) -> list[str]:
    """Spellings of a DICOM date (YYYYMMDD) that a generic date pattern might miss."""
    digits = "".join(c for c in dicom_date if c.isdigit())
    if len(digits) != 8:
        return [re.escape(dicom_date)] if dicom_date.strip() else []
    y, m, d = digits[:4], digits[4:6], digits[6:]
    return [digits, rf"{y}{_SEP}{m}{_SEP}{d}", rf"{d}{_SEP}{m}{_SEP}{y}", rf"{m}{_SEP}{d}{_SEP}{y}"]


def _name_parts(name: str) -> list[str]:
    """Words of a DICOM person name (``Family^Given^Middle^Prefix^Suffix``), longest first."""
    words = re.split(r"[\^=\s,]+", name)
    parts = {w.strip(".'") for w in words if len(w.strip(".'")) >= 2}
    return sorted((p for p in parts if p.upper() not in _NAME_STOPWORDS), key=len, reverse=True)


@dataclass(frozen=True)
class Scrubber:
    """Removes identifiers from free text; build one per study with :meth:`for_identity`."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...] = _GENERIC
    #: How many of ``patterns`` (the first ones) are this study's own identifiers.
    specific: int = 0

    @classmethod
    def for_identity(cls, identity: PatientIdentity | None) -> Scrubber:
        """A scrubber for this study's identifiers plus the generic patterns."""
        if identity is None:
            return cls()
        specific: list[tuple[str, re.Pattern[str]]] = []

        def add(kind: str, pattern: str | None) -> None:
            # Bounded by anything but a letter or digit: folder names join words with "_".
            if pattern:
                specific.append(
                    (kind, re.compile(rf"(?<![^\W_]){pattern}(?![^\W_])", re.IGNORECASE))
                )

        for kind, value in (("id", identity.patient_id), ("id", identity.accession_number)):
            if value.strip():
                add(kind, _flexible(value) or re.escape(value.strip()))
        if identity.institution.strip():
            words = re.findall(r"\w+", identity.institution)
            add("institution", r"\W{0,3}".join(re.escape(w) for w in words))
        for variant in _date_variants(identity.birth_date):
            add("date", variant)
        for part in _name_parts(identity.name):
            add("name", re.escape(part))
        return cls(tuple(specific) + _GENERIC, len(specific))

    def scrub(self, text: str) -> tuple[str, Counter[str]]:
        """``text`` with each identifier replaced by ``[kind]``, and counts per kind."""
        counts: Counter[str] = Counter()
        for kind, pattern in self.patterns:
            text, n = pattern.subn(f"[{kind}]", text)
            if n:
                counts[kind] += n
        return text, counts

    def own_only(self) -> Scrubber:
        """Only this study's identifiers (no generic patterns): for text such as log lines,
        where dates and long numbers are usually not about the patient."""
        return Scrubber(self.patterns[: self.specific], self.specific)

    def leaks(self, text: str) -> list[str]:
        """Kinds of this study's identifiers still present in ``text`` (case-insensitive)."""
        own = self.patterns[: self.specific]
        return sorted({kind for kind, pattern in own if pattern.search(text)})


def scrub_text(text: str, identity: PatientIdentity | None = None) -> str:
    """``text`` without identifiers (see :class:`Scrubber`)."""
    return Scrubber.for_identity(identity).scrub(text)[0]


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
