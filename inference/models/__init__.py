"""Model families by ``ModelConfig.architecture``; other modules add their families here."""

from inference.models.llama import LlamaForCausalLM

MODEL_REGISTRY: dict[str, type] = {
    "llama": LlamaForCausalLM,
    "mistral": LlamaForCausalLM,
    "qwen2": LlamaForCausalLM,
}
