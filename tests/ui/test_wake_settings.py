"""The wake phrase settings reach the assistant loop."""

from __future__ import annotations


def test_wake_variants_and_sensitivity_come_from_settings() -> None:
    from voxrad.core.settings import Settings
    from voxrad.ui.assistant_setup import pipeline_options

    settings = Settings.model_validate(
        {"audio": {"wake_variants": ["hey scanner"], "wake_sensitivity": 0.2}}
    )
    options = pipeline_options(settings)
    assert options["wake_variants"] == ("hey scanner",)
    assert options["wake_sensitivity"] == 0.2
