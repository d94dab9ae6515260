"""Readers that turn files on disk into :class:`voxrad.core.volume.Volume` objects.

Entry point: :func:`voxrad.imaging.registry.open_study`.
"""
