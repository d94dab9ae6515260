"""``python -m voxrad`` runs the command line."""

import sys

from voxrad.cli import main

if __name__ == "__main__":
    sys.exit(main())
