"""Tokenizers built from a checkpoint: the BPE vocabulary and merges of a GGUF, or a directory's
``tokenizer.json``, through the ``tokenizers`` library; plus the checkpoint's chat template."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from inference.chat_template import ChatTemplate

# llama.cpp's `tokenizer.ggml.pre` names -> how that vocabulary splits text before BPE.
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLITS = {"llama3": _LLAMA3_SPLIT, "llama-bpe": _LLAMA3_SPLIT, "qwen2": _QWEN2_SPLIT}
_CONTROL, _USER_DEFINED = 3, 4


def _pre_tokenizer(pre: str | None) -> pre_tokenizers.PreTokenizer:
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _SPLITS:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_SPLITS[pre]), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    if pre == "smollm":  # llama.cpp: "\p{N}" then the GPT-2 regex, i.e. one digit per token
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    return byte_level


class Tokenizer:
    """Text <-> token ids, and chat messages -> prompt ids."""

    def __init__(
        self,
        backend: HFTokenizer,
        chat_template: ChatTemplate | None,
        eos_token_ids: list[int],
        bos_token_id: int | None = None,
        add_bos: bool = False,
    ):
        self.backend = backend
        self.chat_template = chat_template
        self.eos_token_ids = eos_token_ids
        self.bos_token_id = bos_token_id
        self.add_bos = add_bos

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        ids = self.backend.encode(text, add_special_tokens=False).ids
        if self.add_bos and self.bos_token_id is not None and ids[:1] != [self.bos_token_id]:
            ids = [self.bos_token_id, *ids]
        return ids

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.backend.decode(ids, skip_special_tokens=skip_special_tokens)

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        if self.chat_template is None:
            raise ValueError("this checkpoint has no chat template")
        return self.chat_template.render(messages, add_generation_prompt=add_generation_prompt)

    def encode_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> list[int]:
        return self.encode(self.render_chat(messages, add_generation_prompt))

    @classmethod
    def from_gguf_metadata(cls, meta: dict) -> Tokenizer:
        """``meta`` maps GGUF keys (``tokenizer.ggml.*``) to decoded values."""
        kind = meta.get("tokenizer.ggml.model")
        if kind != "gpt2":
            raise NotImplementedError(
                f"GGUF tokenizer model {kind!r} is not supported (byte-level BPE only)"
            )
        tokens: list[str] = meta["tokenizer.ggml.tokens"]
        types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
        merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
        vocab = {tok: i for i, tok in enumerate(tokens)}
        backend = HFTokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
        backend.pre_tokenizer = _pre_tokenizer(meta.get("tokenizer.ggml.pre"))
        backend.decoder = decoders.ByteLevel()
        backend.add_special_tokens(
            [
                AddedToken(t, special=True, normalized=False)
                for t, ty in zip(tokens, types, strict=True)
                if ty == _CONTROL
            ]
        )
        backend.add_tokens(
            [
                AddedToken(t, special=False, normalized=False)
                for t, ty in zip(tokens, types, strict=True)
                if ty == _USER_DEFINED
            ]
        )
        bos = meta.get("tokenizer.ggml.bos_token_id")
        eos_ids = [
            meta[k]
            for k in (
                "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.eot_token_id",
                "tokenizer.ggml.eom_token_id",
            )
            if meta.get(k) is not None
        ]
        eos_ids = list(dict.fromkeys(eos_ids))
        template = meta.get("tokenizer.chat_template")
        chat = (
            ChatTemplate(
                template,
                bos_token=tokens[bos] if bos is not None else "",
                eos_token=tokens[eos_ids[0]] if eos_ids else "",
            )
            if template
            else None
        )
        return cls(
            backend, chat, eos_ids, bos, bool(meta.get("tokenizer.ggml.add_bos_token", False))
        )

    @classmethod
    def from_pretrained_dir(
        cls, path: str | Path, eos_token_ids: list[int] | None = None
    ) -> Tokenizer:
        """A Hugging Face directory: ``tokenizer.json`` and ``tokenizer_config.json``."""
        path = Path(path)
        backend = HFTokenizer.from_file(str(path / "tokenizer.json"))
        cfg_file = path / "tokenizer_config.json"
        cfg = json.loads(cfg_file.read_text()) if cfg_file.exists() else {}

        def token_text(value) -> str | None:
            return value.get("content") if isinstance(value, dict) else value

        bos_text, eos_text = token_text(cfg.get("bos_token")), token_text(cfg.get("eos_token"))
        template = cfg.get("chat_template")
        jinja_file = path / "chat_template.jinja"
        if template is None and jinja_file.exists():
            template = jinja_file.read_text()
        if isinstance(template, list):  # named templates: take the default one
            template = next(t["template"] for t in template if t.get("name") == "default")
        eos_ids = list(eos_token_ids or [])
        if eos_text is not None and backend.token_to_id(eos_text) is not None:
            eos_ids = list(dict.fromkeys([*eos_ids, backend.token_to_id(eos_text)]))
        bos = backend.token_to_id(bos_text) if bos_text else None
        chat = (
            ChatTemplate(template, bos_token=bos_text or "", eos_token=eos_text or "")
            if template
            else None
        )
        return cls(backend, chat, eos_ids, bos, bool(cfg.get("add_bos_token", False)))
