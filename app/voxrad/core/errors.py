"""Errors that reach a clinician.

Every subclass carries a message written for the person at the workstation: what happened and
what they can do about it. Technical detail goes to the log, never into ``str(error)``.
"""

from __future__ import annotations

import errno


class VoxRadError(Exception):
    """Base class: ``str(err)`` is the message shown to the user, ``hint`` what to do next."""

    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def user_message(self) -> str:
        """The message and the hint in one line, for a status bar or stderr."""
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class StudyLoadError(VoxRadError):
    """A study, series or file could not be opened."""

    default_hint = "Check that the path holds DICOM, NIfTI, PNG or JPEG images and is readable."


class NoImagesFoundError(StudyLoadError):
    """A path held nothing VoxRad can show."""


class LoadCancelledError(VoxRadError):
    """The user cancelled a load; not a fault."""


class SettingsError(VoxRadError):
    """The settings file or an environment override is invalid."""

    default_hint = "Fix or delete the settings file; VoxRad recreates it with defaults."


class ModelNotInstalledError(VoxRadError):
    """A model that a feature needs is not on this workstation."""

    default_hint = "Install it with `voxrad models pull NAME`, or import a copied file."


class BackendError(VoxRadError):
    """A speech or model backend failed; the app keeps running and the backend can be reloaded."""


class AudioError(VoxRadError):
    """Sound input or output failed; typing questions and commands still works."""

    default_hint = "Typing questions and commands still works."


class MicrophoneError(AudioError):
    """No microphone, the chosen one is missing or busy, or it was unplugged mid-utterance."""

    default_hint = (
        "Check that a microphone is plugged in and not used by another program, then try "
        "again. Typing questions and commands still works."
    )


class DependencyMissingError(VoxRadError):
    """An optional part of VoxRad is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} is not installed.",
            hint=f"Install it with: pip install 'voxrad[{extra}]'",
        )
        self.extra = extra


class DisplayUnavailableError(VoxRadError):
    """The desktop window cannot open: no graphical display in this session."""

    default_hint = (
        "Start VoxRad from a desktop session (or set DISPLAY); the command-line tools "
        "(voxrad info, voxrad doctor) work without one."
    )


#: What went wrong when a file or database could not be written, by errno / SQLite code.
_FULL = "the disk is full"
_READ_ONLY = "its folder is read-only"
_DISK = "the disk reported an error"
_ERRNO_CAUSES = {
    errno.ENOSPC: _FULL,
    getattr(errno, "EDQUOT", errno.ENOSPC): _FULL,
    errno.EROFS: _READ_ONLY,
    errno.EACCES: _READ_ONLY,
    errno.EPERM: _READ_ONLY,
    errno.EIO: _DISK,
}
_SQLITE_CAUSES = (("SQLITE_FULL", _FULL), ("SQLITE_READONLY", _READ_ONLY), ("SQLITE_IOERR", _DISK))


def storage_cause(exc: BaseException) -> str:
    """Why a write failed, in a clinician's words ("the disk is full", "its folder is
    read-only", "the disk reported an error"), or "" when it is no storage fault known here.

    Looks at ``exc`` and the exceptions it was raised from (an OSError's errno, an SQLite
    error's code), so a wrapped error still names its cause.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _ERRNO_CAUSES:
            return _ERRNO_CAUSES[current.errno]
        name = str(getattr(current, "sqlite_errorname", ""))
        for code, cause in _SQLITE_CAUSES:
            if name.startswith(code):
                return cause
        current = current.__cause__ or current.__context__
    return ""


def storage_hint(cause: str, folder: object) -> str:
    """What to do about :func:`storage_cause`'s ``cause`` for files in ``folder``."""
    if cause == _FULL:
        return f"Free space on the disk that holds {folder} (or ask IT), then try again."
    if cause == _READ_ONLY:
        return f"Ask IT to make {folder} writable for your account, then try again."
    if cause == _DISK:
        return f"Ask IT to check the disk that holds {folder}."
    return ""


class PacsError(VoxRadError):
    """A query, retrieve or send to a PACS failed; what was already retrieved is kept."""

    default_hint = "Check the PACS node in settings (`voxrad pacs echo`) or ask IT."


class PacsUnreachableError(PacsError):
    """Nothing answered at the node's address: wrong host or port, server down, firewall."""

    default_hint = (
        "Check the host name and port of the PACS node, that the PACS is running and that the "
        "network (VPN, firewall) lets this workstation reach it."
    )


class PacsAssociationRejectedError(PacsError):
    """The PACS answered but refused the DICOM association (usually an unknown AE title)."""

    default_hint = (
        "Check the called AE title of the node and ask the PACS administrator to register this "
        "workstation's calling AE title, host and port."
    )


class PacsAuthError(PacsError):
    """The PACS refused the user name, password or token."""

    default_hint = (
        "Check the user name and the secret (the environment variable or keyring entry named "
        "in the node's settings); ask IT whether the account is still valid."
    )


class PacsConnectionLostError(PacsError):
    """The connection dropped in the middle of a transfer."""

    default_hint = (
        "The images received so far are kept and the study is marked incomplete: run the "
        "retrieve again when the network or PACS is back, and it continues where it stopped."
    )


class StudyGoneError(PacsError):
    """The study (or some of its images) disappeared from the PACS during the retrieve."""

    default_hint = (
        "The study may have been deleted, merged or moved on the PACS; search for it again or "
        "ask the PACS administrator. What was received is kept, marked incomplete."
    )


class CorruptInstanceError(PacsError):
    """The PACS sent an image that is not valid DICOM."""

    default_hint = (
        "The other images are kept; ask the PACS administrator to check the stored copy of "
        "this image."
    )


class PriorStudyError(VoxRadError):
    """A prior study cannot be found or used for comparison with the open study."""

    default_hint = "Choose another earlier study of this patient."


class PriorPatientMismatchError(PriorStudyError):
    """The chosen prior is not provably of the same patient as the open study."""

    default_hint = (
        "Choose an earlier study of the same patient. VoxRad compares two studies only when "
        "their patient ID and issuer of patient ID both match; names are never used to match."
    )
