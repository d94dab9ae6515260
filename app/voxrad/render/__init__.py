"""VTK scenes (no QtWidgets): slice and volume views, overlays, presets."""
