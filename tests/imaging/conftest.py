import sys
from pathlib import Path

# Lets tests import the synthetic-series writer as a plain module.
sys.path.insert(0, str(Path(__file__).parent))
