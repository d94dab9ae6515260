import sys
from pathlib import Path

# Lets the records tests import their helpers (audit_support.py, ...) as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
