"""The password or token of a PACS node: from the environment, else the OS keyring.

Never stored in the settings file and never logged; the node only names where it lives.
"""

from __future__ import annotations

import logging
import os

from voxrad.core.errors import PacsAuthError
from voxrad.core.settings import PacsNode

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "voxrad-pacs"


def node_secret(node: PacsNode) -> str:
    """The secret for ``node``'s authentication ("" when it uses none).

    Raises
    ------
    PacsAuthError
        When the node needs a secret and neither the variable nor the keyring has one.
    """
    if node.auth == "none":
        return ""
    value = os.environ.get(node.secret_env, "") if node.secret_env else ""
    if value:
        return value
    try:
        import keyring

        value = keyring.get_password(KEYRING_SERVICE, node.name) or ""
    except ImportError:
        value = ""
    except Exception:  # no keyring backend on this desktop (headless, locked)
        logger.debug("keyring lookup failed", exc_info=True)
        value = ""
    if value:
        return value
    raise PacsAuthError(
        f"PACS node '{node.name}' needs a {'password' if node.auth == 'basic' else 'token'}, "
        "and none is set.",
        hint=(
            f"Set the environment variable {node.secret_env or '(none named)'}, or store it "
            f"in the OS keyring under service '{KEYRING_SERVICE}', user '{node.name}'."
        ),
    )
