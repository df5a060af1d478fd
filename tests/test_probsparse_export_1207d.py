"""Informer's seeded ProbSparse attention through torch.export and torch.compile (1207d).

With `attention: prob_sparse` and `sampling_seed`, forward made a `torch.Generator` seeded on every call.
`torch.export` lifted it as one constant object, so the exported program's generator advanced between
calls: it matched eager on its first call only (about 1e-3 apart on the second, 0.02 with `distil`).
tests/test_export.py called each exported module once. The samples are now computed in Python, bit for
bit those of a seeded CPU generator, while tracing, and a traced graph holds them as a constant; eager calls
draw them from such a generator each call (a table kept per length grew with every length a model saw: 375 MiB
after 100 lengths of the default Informer, carried by torch.save and deepcopy).
"""

from __future__ import annotations

import math

import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)


def informer(seed: int | None = 7, **params: object) -> torch.nn.Module:
    """A small seeded ProbSparse Informer (eval mode), whose weights depend on nothing global."""
    torch.manual_seed(0)
    model = vibench.build("transformer/Informer", input_dim=2, d_model=8, n_heads=2, e_layers=2, d_ff=16,
                          num_classes=3, attention="prob_sparse", sampling_seed=seed, **params)
    return model.eval()


def signal(length: int, seed: int) -> torch.Tensor:
    return torch.randn(2, length, 2, generator=torch.Generator().manual_seed(seed))


WARM = pytest.mark.parametrize("warm", [False, True], ids=["never-called", "called-first"])


def traced_informer(warm: bool, **params: object) -> torch.nn.Module:
    """The model to trace; ``warm``: called once before."""
    model = informer(**params)
    if warm:
        with torch.no_grad():
            model(signal(64, 9))
    return model


@WARM
@pytest.mark.parametrize("distil", [False, True])
def test_exported_program_gives_the_eager_outputs_on_every_call(distil: bool, warm: bool) -> None:
    model = informer(distil=distil)
    with torch.no_grad():
        exported = torch.export.export(traced_informer(warm, distil=distil), (signal(64, 0),)).module()
        for call in range(3):
            inputs = signal(64, call)  # new values, the same shape
            torch.testing.assert_close(exported(inputs), model(inputs), atol=0, rtol=0, msg=f"call {call}")


@WARM
def test_compiled_model_gives_the_eager_outputs_on_every_call_and_length(warm: bool) -> None:
    """torch.compile(fullgraph=True) took no seeded generator made in forward; a second length recompiles."""
    model = informer(distil=True)
    compiled = torch.compile(traced_informer(warm, distil=True), fullgraph=True, backend="eager")
    with torch.no_grad():
        for call, length in enumerate((64, 64, 80, 64)):
            inputs = signal(length, call)
            torch.testing.assert_close(compiled(inputs), model(inputs), atol=0, rtol=0, msg=f"call {call}")


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5])
def test_seeded_samples_are_those_of_a_seeded_cpu_generator(seed: int) -> None:
    """The eager outputs are those of before: the samples of `torch.Generator().manual_seed(seed)`."""
    attention = informer(seed).encoder_layers[0].attention
    for length in (1, 2, 17, 300):
        count = max(1, min(5 * math.ceil(math.log(length)), length))
        expected = torch.randint(length, (length, count), generator=torch.Generator().manual_seed(seed))
        assert torch.equal(attention._draw_seeded(seed, length, count, torch.device("cpu")), expected), length


def test_a_training_step_after_a_call_under_inference_mode() -> None:
    """Samples of a call under torch.inference_mode() are inference tensors, which autograd cannot save."""
    model, x = informer(), signal(64, 0)
    with torch.inference_mode():
        model(x)
    model.train()(x).sum().backward()
    assert model.input_embedding.weight.grad is not None


def test_calls_on_many_lengths_leave_the_model_as_it_was() -> None:
    import pickle

    model = informer()
    before = len(pickle.dumps(model))
    with torch.no_grad():
        first = model(signal(40, 0))
        for length in range(41, 61):
            model(signal(length, length))
        torch.testing.assert_close(model(signal(40, 0)), first, atol=0, rtol=0)
    assert len(pickle.dumps(model)) == before


def test_unseeded_sampling_still_draws_from_the_global_generator() -> None:
    model, x = informer(None), signal(64, 0)
    with torch.no_grad():
        torch.manual_seed(3)
        first = model(x)
        torch.manual_seed(3)
        again = model(x)
        different = model(x)
    torch.testing.assert_close(again, first, atol=0, rtol=0)
    assert not torch.equal(different, first)
