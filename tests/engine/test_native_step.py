"""A step on the C kernels runs torch's own ops on one thread (its OpenMP workers would otherwise
spin on the cores the kernels' pool needs) and leaves the caller's thread count as it was."""

import pytest
import torch
from tiny_models import tiny_engine

from inference import cpu_kernels, native
from inference.sampling import SamplingParams


@pytest.mark.skipif(cpu_kernels.ops() is not native, reason="the C kernels do not run here")
def test_step_runs_torch_serially_and_restores_threads():
    engine = tiny_engine()
    before = torch.get_num_threads()
    seen = []
    run = engine.runner.run

    def observing_run(batch):
        seen.append(torch.get_num_threads())
        return run(batch)

    engine.runner.run = observing_run
    engine.submit_tokens([72, 101, 108, 108, 111], SamplingParams(max_tokens=3))
    while engine.step():
        pass
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before


@pytest.mark.skipif(cpu_kernels.ops() is not native, reason="the C kernels do not run here")
def test_step_restores_threads_when_the_forward_raises():
    engine = tiny_engine()
    before = torch.get_num_threads()

    def failing_run(batch):
        raise RuntimeError("forward failed")

    engine.runner.run = failing_run
    engine.submit_tokens([72, 101], SamplingParams(max_tokens=1))
    with pytest.raises(RuntimeError, match="forward failed"):
        engine.step()
    assert torch.get_num_threads() == before
