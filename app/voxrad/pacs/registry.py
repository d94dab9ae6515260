"""Pick the client for a node's protocol (imports stay lazy: pynetdicom and dicomweb-client
load only when a node of theirs is used)."""

from __future__ import annotations

from voxrad.core.settings import PacsNode
from voxrad.pacs.base import PacsClient
from voxrad.pacs.secrets import node_secret

PROTOCOLS = ("dicomweb", "dimse")


def open_client(node: PacsNode) -> PacsClient:
    """A client for ``node`` (its secret looked up now, never stored on the node)."""
    if node.protocol == "dicomweb":
        from voxrad.pacs.dicomweb import DicomwebPacs

        return DicomwebPacs(node, node_secret(node))
    from voxrad.pacs.dimse import DimsePacs

    return DimsePacs(node)
