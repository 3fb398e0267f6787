"""Checkpoint formats: GGUF tensor data, on-load int4 quantization, GPTQ, Hugging Face directories."""
