"""A Hugging Face checkpoint directory: ``config.json`` plus one or many ``*.safetensors`` shards.

Tensors are read one at a time through ``safe_open`` (memory-mapped), so a loader that converts each
weight as it goes never holds the whole float checkpoint in memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open


class SafetensorsDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        config_file = self.path / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(f"{self.path} has no config.json")
        self.config: dict = json.loads(config_file.read_text())
        index = self.path / "model.safetensors.index.json"
        if index.is_file():
            weight_map = json.loads(index.read_text())["weight_map"]
            self._file_of = {name: self.path / shard for name, shard in weight_map.items()}
        else:
            self._file_of = {}
            for shard in sorted(self.path.glob("*.safetensors")):
                with safe_open(shard, "pt") as f:
                    self._file_of.update(dict.fromkeys(f.keys(), shard))
        if not self._file_of:
            raise FileNotFoundError(f"{self.path} has no safetensors weights")
        self._handles: dict[Path, object] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._file_of

    def keys(self) -> list[str]:
        return list(self._file_of)

    def get(self, name: str) -> torch.Tensor:
        shard = self._file_of[name]
        handle = self._handles.get(shard)
        if handle is None:
            handle = self._handles[shard] = safe_open(shard, "pt")
        return handle.get_tensor(name)

    @property
    def quantization_config(self) -> dict | None:
        return self.config.get("quantization_config")
