"""One versioned settings model, stored as JSON in the user config dir.

Precedence, highest first: values passed in code, environment variables
(``VOXRAD_<SECTION>__<FIELD>``, e.g. ``VOXRAD_LOGGING__LEVEL=DEBUG``), the settings file,
defaults. A damaged settings file is set aside (renamed, never deleted) and defaults are used,
so a bad edit cannot stop the app from starting.
"""

from __future__ import annotations

import json
import logging
import os
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from voxrad.core import paths
from voxrad.core.errors import SettingsError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class LoggingSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Size of one log file before rotation, and how many old files to keep.
    max_bytes: int = Field(5_000_000, ge=100_000)
    backups: int = Field(5, ge=1, le=50)


class ModelSettings(BaseModel):
    #: Folder holding model weights; empty means the per-user data folder.
    directory: str = ""

    def resolved_directory(self) -> Path:
        return Path(self.directory).expanduser() if self.directory else paths.default_models_dir()


class ImagingSettings(BaseModel):
    #: Resample tilted or irregularly spaced series onto a regular grid (recommended).
    regularize_geometry: bool = True


class PrivacySettings(BaseModel):
    #: Remote (site server) backends must be switched on explicitly.
    allow_remote_backends: bool = False
    #: Mask the top and bottom text bands of images flagged as carrying burned-in text.
    mask_text_bands: bool = True
    text_band_fraction: float = Field(0.12, ge=0.0, le=0.5)
    #: Store study/series/SOP UIDs in the audit log as salted hashes.
    hash_audit_uids: bool = True


class AsrSettings(BaseModel):
    """Speech recognition (faster-whisper)."""

    backend: str = "faster-whisper"
    #: A model name (tiny.en ... large-v3-turbo) found in the models folder, or a local path.
    model: str = "tiny.en"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    #: "auto": float16 on a usable CUDA GPU, int8 on the CPU.
    compute_type: str = "auto"
    #: Language code; empty means detect (multilingual models only).
    language: str = "en"
    beam_size: int = Field(5, ge=1, le=10)
    #: Site lexicon: a text file with one term per line (drug names, anatomy, findings).
    lexicon_path: str = ""
    #: Vocabulary biasing: "study" puts the open study's words, the site lexicon and the
    #: built-in terms of the study's body region in the recogniser's prompt; "off" none.
    biasing: Literal["study", "off"] = "study"
    #: Mark medical words heard with low probability (the transcript's ``uncertain``); costs
    #: about three times the decoding time on a CPU (measured), so off unless chosen.
    word_confidence: bool = False
    #: Hallucination guard: segments above this no-speech probability with a low
    #: average log-probability are dropped.
    no_speech_threshold: float = Field(0.6, ge=0.0, le=1.0)
    log_prob_threshold: float = -1.0


class AudioSettings(BaseModel):
    """Microphone capture, push-to-talk and hands-free mode."""

    #: Input device name (or part of it); empty means the system default.
    input_device: str = ""
    #: Audio kept from before push-to-talk was pressed, so the first syllable is not lost.
    pre_roll_s: float = Field(0.3, ge=0.0, le=2.0)
    max_utterance_s: float = Field(30.0, ge=1.0, le=300.0)
    #: Hands-free: this much silence ends an utterance.
    silence_s: float = Field(0.8, ge=0.2, le=5.0)
    vad_threshold: float = Field(0.5, ge=0.05, le=0.95)
    wake_phrase: str = "VoxRad"
    #: Other spellings or phrases accepted as the wake phrase ("Vox Rad", "hey VoxRad").
    wake_variants: list[str] = Field(default_factory=list)
    #: 0 strict .. 1 lenient: how close to the phrase (by sound) the first words must be.
    wake_sensitivity: float = Field(0.5, ge=0.0, le=1.0)
    #: Hands-free: ignore utterances that do not start with the wake phrase.
    require_wake_phrase: bool = True


class TtsSettings(BaseModel):
    """Spoken replies."""

    enabled: bool = True
    backend: str = "pyttsx3"
    #: Voice id or part of its name; empty means the system default.
    voice: str = ""
    rate: int = Field(175, ge=60, le=400)
    volume: float = Field(1.0, ge=0.0, le=1.0)


class CommandSettings(BaseModel):
    """Voice commands."""

    #: Extra phrases mapped to built-in commands, e.g. {"chest please": "lung window"}.
    synonyms: dict[str, str] = Field(default_factory=dict)


class VlmSettings(BaseModel):
    """The vision-language model that answers questions."""

    #: "llama-cpp" (default, GGUF), "transformers" (NF4 on a CUDA GPU) or "openai" (site server).
    backend: str = "llama-cpp"
    #: A catalog name (``voxrad models list``) or a path to a GGUF file.
    model: str = "medgemma-1.5-4b-it"
    #: GPU layers to offload: -1 sizes them from free GPU memory, 0 keeps the model on the CPU.
    gpu_layers: int = Field(-1, ge=-1)
    context_tokens: int = Field(8192, ge=512, le=131_072)
    max_answer_tokens: int = Field(768, ge=16, le=8192)
    #: 0 gives the most likely answer; self-consistency samples use ``sample_temperature``.
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    sample_temperature: float = Field(0.7, ge=0.0, le=2.0)
    #: Extra answers sampled to measure agreement (0 switches self-consistency off).
    self_consistency_samples: int = Field(0, ge=0, le=10)
    #: OpenAI-compatible server: base URL (".../v1"), served model name, API key variable.
    server_url: str = ""
    server_model: str = ""
    #: The key itself (stored in the settings file), else read from the variable ``api_key_env``.
    api_key: str = ""
    api_key_env: str = "VOXRAD_VLM_API_KEY"
    verify_tls: bool = True
    connect_timeout_s: float = Field(10.0, gt=0.0, le=300.0)
    read_timeout_s: float = Field(120.0, gt=0.0, le=3600.0)
    #: The viewer's assistant runs a local engine (llama-cpp, transformers) in its own process,
    #: so a crash or a GPU out-of-memory abort inside it cannot take the viewer down: the
    #: question gets a message and the engine restarts. Off: in the app's process (slightly
    #: less overhead per question, about 1-2 s less to load).
    separate_process: bool = True


class AssistantSettings(BaseModel):
    """How the assistant is driven: push-to-talk, hands-free, busy questions, history."""

    #: Held to talk (a foot pedal can send this key); a Qt key name such as "F4".
    push_to_talk_key: str = Field("F4", min_length=1)
    #: The mouse's side (back/forward) buttons also act as push-to-talk.
    side_button_talk: bool = True
    #: A question asked while another runs waits ("queue") or replaces it ("cancel").
    busy_policy: Literal["queue", "cancel"] = "queue"
    max_queued: int = Field(3, ge=0, le=20)
    #: Earlier answered turns sent with a question as context.
    history_turns: int = Field(6, ge=0, le=50)
    #: Start with spoken replies muted.
    muted: bool = False
    #: Listen continuously (voice activity detection, wake phrase) instead of push-to-talk.
    hands_free: bool = False
    #: Show what is being heard while the clinician speaks ("Hearing: ..."), replaced by the
    #: final transcript when the utterance ends. Never saved.
    live_transcript: bool = True
    #: Seconds of speech between two live-transcript updates.
    live_transcript_interval_s: float = Field(1.0, ge=0.3, le=5.0)


class PacsNode(BaseModel):
    """One PACS (or other DICOM node) VoxRad can query, retrieve from and send to.

    No secret is stored here: ``secret_env`` names the environment variable holding the
    password or token; when it is unset, the OS keyring (service ``voxrad-pacs``, user
    ``name``) is asked, where the ``keyring`` package is installed.
    """

    name: str = Field("orthanc", min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    #: "dicomweb" (QIDO-RS / WADO-RS / STOW-RS over HTTP) or "dimse" (C-FIND / C-GET / C-STORE).
    protocol: Literal["dicomweb", "dimse"] = "dicomweb"
    #: DICOMweb: the service root, e.g. "https://pacs.example.org/dicom-web".
    url: str = ""
    #: DIMSE: host, port and the PACS's AE title (called) and this workstation's (calling).
    host: str = ""
    port: int = Field(104, ge=1, le=65535)
    called_ae: str = Field("ANY-SCP", min_length=1, max_length=16)
    calling_ae: str = Field("VOXRAD", min_length=1, max_length=16)
    #: DIMSE retrieve: "get" (C-GET, images on VoxRad's own connection; no port to open) or
    #: "move" (C-MOVE: the PACS connects back to VoxRad at listen_host:listen_port, which it
    #: must have registered under calling_ae).
    retrieve_method: Literal["get", "move"] = "get"
    listen_host: str = ""
    listen_port: int = Field(11112, ge=1, le=65535)
    #: DIMSE over TLS (DICOM TLS); DICOMweb uses TLS when ``url`` starts with https.
    tls: bool = False
    #: Check the server's certificate (HTTPS and DICOM TLS); a CA bundle file, or empty for the
    #: system's certificates.
    verify_tls: bool = True
    ca_file: str = ""
    #: DICOMweb authentication: "none", "basic" (user name + password) or "bearer" (token).
    auth: Literal["none", "basic", "bearer"] = "none"
    username: str = ""
    secret_env: str = "VOXRAD_PACS_SECRET"
    timeout_s: float = Field(30.0, gt=0.0, le=600.0)


class PacsSettings(BaseModel):
    """PACS nodes, the default one, and where retrieved studies are kept."""

    nodes: list[PacsNode] = Field(
        default_factory=lambda: [PacsNode(url="http://localhost:8042/dicom-web")]
    )
    #: Name of the node used when no ``--node`` is given.
    default_node: str = "orthanc"
    #: Folder for retrieved studies; empty means ``<data dir>/pacs-cache``.
    cache_dir: str = ""

    def node(self, name: str | None = None) -> PacsNode:
        """The node called ``name`` (the default node when None).

        Raises
        ------
        SettingsError
            When no node has that name.
        """
        wanted = name or self.default_node
        for node in self.nodes:
            if node.name == wanted:
                return node
        known = ", ".join(n.name for n in self.nodes) or "none"
        raise SettingsError(
            f"No PACS node called '{wanted}' in settings (known: {known}).",
            hint="Add it to the pacs.nodes list in settings, or give --url / --dimse.",
        )

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        return paths.data_dir() / "pacs-cache"


_file_values: ContextVar[dict[str, Any] | None] = ContextVar("_file_values", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """Values read from the settings file, below environment variables in precedence."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        value = (_file_values.get() or {}).get(field_name)
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = _file_values.get() or {}
        return {k: v for k, v in values.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Everything a user or IT can configure. Sections are added by the features that use them."""

    model_config = SettingsConfigDict(
        env_prefix="VOXRAD_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    schema_version: int = SCHEMA_VERSION
    logging: LoggingSettings = LoggingSettings()
    models: ModelSettings = ModelSettings()
    imaging: ImagingSettings = ImagingSettings()
    privacy: PrivacySettings = PrivacySettings()
    asr: AsrSettings = AsrSettings()
    audio: AudioSettings = AudioSettings()
    tts: TtsSettings = TtsSettings()
    commands: CommandSettings = CommandSettings()
    vlm: VlmSettings = VlmSettings()
    assistant: AssistantSettings = AssistantSettings()
    pacs: PacsSettings = PacsSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older settings file up to :data:`SCHEMA_VERSION` (none older exists yet).

    A file from a newer VoxRad (after a downgrade) is read for the fields this version knows;
    the others are ignored (and dropped if this version saves), and the version is kept.
    """
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"schema_version {version!r} is not a version number")
    if version > SCHEMA_VERSION:
        logger.warning(
            "settings file has schema %d, newer than this VoxRad (%d): using the fields it knows",
            version,
            SCHEMA_VERSION,
        )
    return data


def _set_aside(path: Path, why: str) -> Path:
    backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, backup)
    logger.warning("settings file set aside as %s: %s", backup.name, why)
    return backup


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from ``path`` (default: the user config dir) and the environment.

    A missing file gives defaults. An unreadable or invalid file is renamed to
    ``settings.json.damaged-<time>`` and defaults are used; invalid *environment* values
    raise :class:`SettingsError`, since they come from IT's deployment and must be fixed there.
    """
    path = path or paths.settings_path()
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(loaded, dict):
                raise ValueError("top level is not an object")
            data = _migrate(loaded)
            token = _file_values.set(data)
            try:
                Settings()
            finally:
                _file_values.reset(token)
        except (ValueError, ValidationError) as exc:
            _set_aside(path, str(exc).splitlines()[0])
            data = {}
    token = _file_values.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SettingsError(
            f"Invalid setting {where}: {first['msg']}.",
            hint="Check the VOXRAD_* environment variables set for this workstation.",
        ) from exc
    finally:
        _file_values.reset(token)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically (a crash mid-write leaves the old file intact)."""
    path = path or paths.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(settings.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
