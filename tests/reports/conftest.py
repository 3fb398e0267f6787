"""The reports tests build their dialogues with the dashboard tests' data helpers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
