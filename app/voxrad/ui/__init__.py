"""PySide6 widgets: the main window, viewer, conversation panel, settings, workers."""
