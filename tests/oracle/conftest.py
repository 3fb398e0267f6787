"""The oracle tests: `transformers` (and sentence-transformers) as the reference implementation.

Recent `transformers` import the PyPI package ``kernels``; the repository's own top-level
``kernels/`` (our Triton kernels) would shadow it if the checkout were first on the import path.
So these tests run in a pytest process of their own whose path does not hold the repository root:
``cd tests/oracle && ../../.venv/bin/pytest -o django_find_project=false`` (what ``make test`` runs). Our
packages are found through the editable install, after site-packages. Nothing here uses our
``kernels``; a test in the main suite that needs a ``transformers`` checkpoint makes it in a child
process (``tiny_models.make_hf_checkpoint``).
"""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[2]

if any(Path(entry or os.getcwd()).resolve() == REPO for entry in sys.path):
    raise pytest.UsageError(
        "tests/oracle must run without the repository root on sys.path: "
        "cd tests/oracle && ../../.venv/bin/pytest -o django_find_project=false"
    )
