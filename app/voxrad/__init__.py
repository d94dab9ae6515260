"""VoxRad: a speech-driven desktop assistant for medical imaging.

Decision support, not a diagnostic device: every answer can be wrong.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
