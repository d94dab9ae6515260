"""A dark theme for reading rooms: low luminance chrome so the image is the brightest thing."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_STYLE = """
QMainWindow, QDockWidget, QWidget { background: #1b1d21; color: #d5d9e0; }
QMenuBar, QMenu { background: #202328; color: #d5d9e0; }
QMenu::item:selected, QMenuBar::item:selected { background: #2f4a6b; }
QListWidget { background: #15171a; border: 1px solid #2a2d33; }
QListWidget::item:selected { background: #2f4a6b; }
QStatusBar { background: #15171a; color: #aab2bd; }
QLabel#warnings { background: #4a3b12; color: #ffd98a; padding: 4px; }
QLabel#error { background: #4d1d1d; color: #ffb3b3; padding: 4px; }
QPushButton { background: #2a2d33; border: 1px solid #3a3f47; padding: 3px 10px; }
QPushButton:hover { background: #343842; }
QProgressBar { background: #15171a; border: 1px solid #2a2d33; text-align: center; }
QProgressBar::chunk { background: #3d6aa0; }
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette and a small style sheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1b1d21",
        QPalette.ColorRole.WindowText: "#d5d9e0",
        QPalette.ColorRole.Base: "#15171a",
        QPalette.ColorRole.AlternateBase: "#202328",
        QPalette.ColorRole.Text: "#d5d9e0",
        QPalette.ColorRole.Button: "#2a2d33",
        QPalette.ColorRole.ButtonText: "#d5d9e0",
        QPalette.ColorRole.Highlight: "#2f4a6b",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#202328",
        QPalette.ColorRole.ToolTipText: "#d5d9e0",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    app.setPalette(palette)
    app.setStyleSheet(_STYLE)
