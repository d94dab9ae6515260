"""What an engine is built from (:class:`ModelSpec`) and the one way to build it.

Kept apart from :mod:`~voxrad.backends.vlm.registry` because both sides of the process
boundary need it: the registry (which may wrap an engine in
:class:`~voxrad.backends.vlm.isolated.IsolatedVLM`) and the isolated engine's child (which
builds the real engine). With it in the registry, registry -> isolated -> isolated_child ->
registry was an import cycle.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxrad.backends.vlm.base import VisionLanguageModel
    from voxrad.core.settings import PrivacySettings, VlmSettings


@dataclass(frozen=True)
class ModelSpec:
    """Which model to run and where its files are (None for a remote server)."""

    name: str
    family: str
    backend: str
    model_path: Path | None = None
    mmproj_path: Path | None = None


def build_engine(
    target: str, spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings
) -> VisionLanguageModel:
    """The engine that the factory ``target`` (``"module:factory"``) makes for ``spec``."""
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    model: VisionLanguageModel = factory(spec, settings, privacy)
    return model
