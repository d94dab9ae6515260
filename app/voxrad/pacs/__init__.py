"""Query, retrieve and send studies to a PACS over DICOMweb or DIMSE (no Qt).

:func:`voxrad.pacs.registry.open_client` gives a :class:`~voxrad.pacs.base.PacsClient` for a
:class:`~voxrad.core.settings.PacsNode`; retrieved studies land in a per-user cache folder
(:mod:`voxrad.pacs.cache`) that ``voxrad info`` / ``ask`` and the viewer open like any folder.
"""
