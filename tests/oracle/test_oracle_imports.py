"""The oracle process sees the PyPI ``kernels`` package (when installed, as the lock installs it
with transformers), never the repository's own ``kernels/``, and transformers' hub-kernel
integration imports; this is what failed when our folder shadowed it."""

import importlib.metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_transformers_imports_its_hub_kernels_here():
    from transformers.integrations import hub_kernels
    from transformers.utils.import_utils import is_kernels_available

    assert hub_kernels is not None
    try:
        importlib.metadata.version("kernels")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the PyPI kernels package is not installed: nothing can clash")
    assert is_kernels_available()
    import kernels

    assert Path(kernels.__file__).resolve().parent != REPO / "kernels"
    assert hasattr(kernels, "get_kernel")  # the hub package, not our Triton kernels


def test_our_packages_are_the_installed_ones_not_test_folders():
    """``tests/`` is on this process's path: no folder there may pass for one of our packages."""
    import chatbot
    import inference

    assert callable(inference.load)
    assert Path(inference.__file__).resolve() == REPO / "inference" / "__init__.py"
    assert Path(chatbot.__file__).resolve() == REPO / "chatbot" / "__init__.py"
