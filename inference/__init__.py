"""Parley's inference engine: quantized LLMs on the CPU, continuous batching, paged KV cache with
prefix caching. No Django here; usable from a shell, a worker, or ``python -m inference``.

    import inference
    engine = inference.load("smollm2-135m-instruct")
    stream = engine.submit([{"role": "user", "content": "Hi"}], inference.SamplingParams(max_tokens=32))
    for delta in stream: print(delta, end="")
    print(stream.usage)
"""

from inference.config import EngineConfig, ModelConfig
from inference.engine.llm_engine import LLMEngine
from inference.engine.stream import RequestStream, Usage
from inference.loader import load
from inference.sampling import SamplingParams

__all__ = [
    "EngineConfig",
    "LLMEngine",
    "ModelConfig",
    "RequestStream",
    "SamplingParams",
    "Usage",
    "load",
]
