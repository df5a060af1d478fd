"""model.py's runtime helpers (vibench/compiler/codegen/support.py) and the emitted docstring, as QA found them.

* A free constructor argument is checked as the compiler checks a value: ``nan`` is within no bound (a
  dropout of nan was built, then every forward raised torch's error) and an int beyond 2**62 is refused
  (torch's own overflow error came from inside ``torch.empty``).
* A check that tracing decides (a wrong dtype) raises its ValueError while ``torch.compile(fullgraph=True)``
  traces, with the eager message and hint (dynamo's error showed only ``torch._check``'s bare message).
* A numpy array's conversion gives the input's dtype (``torch.from_numpy(x)`` of float64 led to the next
  error), and a numpy scalar for a [B] input gets the ``torch.full`` hint a Python float gets.
* ``checkpoint: true`` over TSPN updates its FeatureBatchNorm's running statistics once per step (the
  recomputation replaced the buffers a second time: they moved 1.9x as far).
* The docstring's parameter count names every free argument it depends on (TimesNet's ``d_ff`` and
  ``num_kernels``), not a dropout's rate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo
from tests.test_runtime_checks import SPEC as PROBE  # x [B, 2, L] and fs [B]

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)


@pytest.fixture(scope="module")
def resnet() -> torch.nn.Module:
    return vibench.build("cnn/ResNet1D", initial_channels=8, layers=[1, 1, 1, 1], num_classes=3).eval()


# -- free constructor arguments --------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_free_float_outside_its_bounds_is_refused_also_nan(value: float) -> None:
    rul = type(vibench.build("isfm/task_head/H_05_RUL_pred"))
    with pytest.raises(ValueError, match=rf"^H_05_RUL_pred: dropout={value!r} must be a number >= 0.0 and <= 1.0$"):
        rul(dropout=value)
    assert rul(dropout=0.5).training  # a value within the bounds still builds


@pytest.mark.parametrize(("value", "bits"), [(2**70, "71"), (-(2**63), "64"), (10**5000, "16,610")],
                         ids=["2**70", "-2**63", "10**5000"])
def test_a_free_int_beyond_the_compilers_limit_is_refused(value: int, bits: str) -> None:
    """Before: TypeError (overflow) from torch.empty; 10**5000 has more digits than Python prints."""
    gmlp = type(vibench.build("mlp/gMLP", input_dim=2, hidden_dim=8, num_layers=1, seq_len=16))
    with pytest.raises(ValueError, match=rf"^gMLP: output_dim must be an int >= 1, within 2\*\*62 in magnitude; "
                                         rf"found an int of {bits} bits$"):
        gmlp(output_dim=value)
    assert gmlp(output_dim=3)(torch.randn(2, 16, 2)).shape == (2, 16, 3)


# -- checks decided while tracing ------------------------------------------------------------------


def test_a_wrong_dtype_under_fullgraph_compile_gives_the_eager_message(resnet: torch.nn.Module) -> None:
    x = torch.randn(2, 64, 1, dtype=torch.float64)
    with pytest.raises(ValueError) as eager:
        resnet(x)
    with pytest.raises(Exception) as traced:  # noqa: PT011 - dynamo wraps it in its own error type
        torch.compile(resnet, fullgraph=True, backend="eager")(x)
    assert "converts it" in str(eager.value)
    assert f"raised exception ValueError({str(eager.value)!r})" in str(traced.value)
    good = torch.randn(2, 64, 1)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(resnet, fullgraph=True, backend="eager")(good), resnet(good))


# -- values that are not tensors -------------------------------------------------------------------


def test_a_numpy_array_is_converted_to_the_dtype_the_input_takes(resnet: torch.nn.Module) -> None:
    x = np.random.default_rng(0).standard_normal((2, 64, 1))
    with pytest.raises(TypeError, match=r"found ndarray \(`torch.from_numpy\(x\).to\(torch.float32\)` converts it\)$"):
        resnet(x)
    assert resnet(torch.from_numpy(x).to(torch.float32)).shape == (2, 3)  # the hint works
    with pytest.raises(TypeError, match=r"found ndarray \(`torch.from_numpy\(x\)` converts it\)$"):
        resnet(x.astype(np.float32))
    assert resnet.double()(torch.from_numpy(x)).dtype == torch.float64  # a float64 model takes it as it is
    with pytest.raises(TypeError, match=r"found ndarray \(`torch.from_numpy\(x\)` converts it\)$"):
        resnet(x)
    resnet.float()


def test_an_int32_array_for_an_int64_input_is_converted_to_int64() -> None:
    spec = """
vibench: 1
name: Ids
inputs: {x: {shape: [B, 4]}, ids: {shape: [B], dtype: int64}}
nodes:
  table: {block: embedding, in: ids, num_embeddings: 3, embedding_dim: 4}
  out: {block: add, in: [x, table]}
outputs: {y: out}
"""
    model = vibench.build(text=spec)
    ids = np.array([0, 2], dtype=np.int32)
    with pytest.raises(TypeError, match=r"found ndarray \(`torch.from_numpy\(ids\).to\(torch.int64\)` converts it\)$"):
        model(torch.randn(2, 4), ids)
    assert model(torch.randn(2, 4), torch.from_numpy(ids).to(torch.int64)).shape == (2, 4)


@pytest.mark.parametrize("fs", [np.float32(12000.0), np.float16(12000.0), np.int64(12000), np.array(12000.0)],
                         ids=["float32", "float16", "int64", "0-d array"])
def test_a_numpy_scalar_for_a_per_sample_input_gets_the_full_hint(fs: object) -> None:
    probe = vibench.build(text=PROBE)
    with pytest.raises(TypeError) as err:
        probe(torch.zeros(2, 2, 64), fs)
    assert str(err.value) == (f"Probe: input `fs` must be a tensor [B]; found {type(fs).__name__} (one value for each "
                              f"sample? `torch.full((B,), 12000.0, dtype=torch.float32)` makes it)")


# -- checkpointing ---------------------------------------------------------------------------------

TSPN = """
vibench: 1
name: Net
inputs: {x: {shape: [B, L, 2]}}
nodes: {net: {block: x_model/TSPN, in: x, in_channels: 2, num_classes: 3, checkpoint: CK}}
outputs: {y: net}
"""


def test_a_checkpointed_tspn_updates_its_running_statistics_once() -> None:
    """FeatureBatchNorm replaces its buffers (``self.running_mean = ...``, as the reference does): the
    recomputation put new ones in their place, which restoring the old tensors' values did not undo."""
    plain = vibench.build(text=TSPN.replace("CK", "false"), inputs={"x": (4, 256, 2)})
    saved = vibench.build(text=TSPN.replace("CK", "true"), inputs={"x": (4, 256, 2)})
    saved.load_state_dict(plain.state_dict())
    before = {k: v.clone() for k, v in plain.named_buffers()}
    x = torch.randn(4, 256, 2)
    for model in (plain, saved):
        model.train()
        torch.manual_seed(0)
        model(x).square().sum().backward()
    buffers = dict(saved.named_buffers())
    assert before.keys() == {"net.feature_extractor_layers.norm.running_mean",
                             "net.feature_extractor_layers.norm.running_var"}
    for key, value in plain.named_buffers():
        assert not torch.equal(value, before[key]), key  # one step moved it
        torch.testing.assert_close(buffers[key], value, rtol=0, atol=0, msg=key)


# -- the docstring's parameter count ---------------------------------------------------------------


def test_the_parameter_count_names_the_free_arguments_it_depends_on() -> None:
    resnet = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 4}).source
    assert "def __init__(self, num_classes: int = 4, **fixed: object)" in resnet
    assert "    Parameters: 3,845,956 (with num_classes=4)\n" in resnet
    # TimesNet's d_ff and num_kernels (inner widths of a repeated block) are fixed since 12-06d: no "with"
    timesnet = vibench.compile_spec("isfm/backbone/B_06_TimesNet", params={"output_dim": 16, "d_ff": 8}).source
    assert "def __init__(self, **fixed: object)" in timesnet
    assert "    Parameters: 146,720\n" in timesnet
    rul = vibench.compile_spec("isfm/task_head/H_05_RUL_pred").source
    assert "def __init__(self, dropout: float = 0.1, **fixed: object)" in rul
    assert "    Parameters: 10,369\n" in rul  # a dropout rate counts no weights
