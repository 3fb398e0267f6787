"""The standard-format lock (pylock.toml, PEP 751) pins exactly what requirements-dev.txt, the lock
the Makefile installs from, pins: `make lock` writes both from one resolution."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pylock_pins_what_requirements_dev_pins():
    lock = tomllib.loads((ROOT / "pylock.toml").read_text())
    pinned = {(_name(p["name"]), p["version"]) for p in lock["packages"]}
    text = (ROOT / "requirements-dev.txt").read_text()
    assert pinned == {(_name(n), v) for n, v in re.findall(r"^([\w.-]+)==(\S+)", text, re.M)}
    files = [f for p in lock["packages"] for f in [*p.get("wheels", []), p.get("sdist")] if f]
    assert files and all(f["hashes"].get("sha256") for f in files)
