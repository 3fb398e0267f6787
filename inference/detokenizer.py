"""Incremental detokenization with stop strings.

A byte-level BPE token can end in the middle of a UTF-8 character; such text is held back until
the character completes. Text that could be the start of a stop string is held back too, so a
stop string never reaches the client, not even in part.
"""

from __future__ import annotations

from inference.tokenizer import Tokenizer


class IncrementalDetokenizer:
    def __init__(self, tokenizer: Tokenizer, stop: list[str] | tuple[str, ...] = ()):
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.ids: list[int] = []
        self.text = ""  # decoded text, whole characters only
        self.emitted = 0  # characters of self.text already returned
        self.prefix_offset = 0
        self.read_offset = 0
        self.stopped = False  # a stop string was found; self.text ends just before it

    def add(self, token_id: int) -> str:
        """Append one token; return the text that is now safe to show (nothing after a stop)."""
        if self.stopped:
            return ""
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        prefix = decode(self.ids[self.prefix_offset : self.read_offset])
        full = decode(self.ids[self.prefix_offset :])
        if len(full) > len(prefix) and not full.endswith("\ufffd"):
            self.text += full[len(prefix) :]
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        return self._release(final=False)

    def flush(self) -> str:
        """The request ended: return whatever was held back (not past a stop string)."""
        if not self.stopped and self.read_offset < len(self.ids):
            tail = self.tokenizer.decode(self.ids[self.prefix_offset :])
            self.text += tail[
                len(self.tokenizer.decode(self.ids[self.prefix_offset : self.read_offset])) :
            ]
            self.read_offset = len(self.ids)
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        if self.stop and not self.stopped:
            longest = max(len(s) for s in self.stop)
            start = max(0, self.emitted - longest + 1)
            hits = [i for i in (self.text.find(s, start) for s in self.stop) if i >= 0]
            if hits:
                self.text = self.text[: min(hits)]
                self.stopped = True
        end = len(self.text)
        if self.stop and not self.stopped and not final:
            end -= self._partial_stop_suffix()
        delta = self.text[self.emitted : end] if end > self.emitted else ""
        self.emitted = max(self.emitted, end)
        return delta

    def _partial_stop_suffix(self) -> int:
        """Length of the longest end of self.text that is a proper prefix of a stop string."""
        best = 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(self.text)), best, -1):
                if self.text.endswith(s[:n]):
                    best = n
                    break
        return best
