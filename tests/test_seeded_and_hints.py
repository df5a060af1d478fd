"""E_01_HSE's seeded eval patches survive meta-device construction, and a per-sample input given without its
batch axis (a 0-d ``fs`` for ``[B]``) gets a hint that works when followed.

* The seeded start fractions were a non-persistent buffer: ``to_empty()`` left it uninitialised and
  ``load_state_dict`` (strict, with the reference's keys) did not restore it, so a model built on the meta
  device drew patches from garbage (IndexError, or silently other outputs). They are now Python floats.
* A 0-d ``fs`` with a batch of 2 was told "`fs.unsqueeze(-1)` fits", which then failed on the shared size B.
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import vibench

M_01 = "isfm/M_01_ISFM"


def _inputs(batch: int = 2, length: int = 1024) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(batch, length, 1, generator=gen), torch.full((batch,), 12000.0),
            torch.ones(batch, dtype=torch.long))


def _seeded(**params: object) -> torch.nn.Module:
    return vibench.build(M_01, eval_sampling="seeded", sampling_seed=3, **params).eval()


@pytest.mark.parametrize("how", ["to_meta", "device_context"])
def test_seeded_model_built_on_meta_then_loaded_computes_the_same(how: str) -> None:
    model = _seeded()
    args = _inputs()
    with torch.no_grad():
        expected = model(*args)
    if how == "to_meta":
        empty = _seeded().to("meta")
    else:
        with torch.device("meta"):
            empty = _seeded()
    empty = empty.to_empty(device="cpu")
    with torch.no_grad():  # to_empty leaves whatever memory held: make that deterministic, and wrong
        for t in [*empty.parameters(), *empty.buffers()]:
            t.fill_(float("nan") if t.is_floating_point() else -1)
    result = empty.load_state_dict(model.state_dict())  # strict
    assert not result.missing_keys and not result.unexpected_keys
    with torch.no_grad():
        assert torch.equal(empty.eval()(*args), expected)


def test_the_state_dict_keys_stay_the_references() -> None:
    """No key for the seeded draw: the reference's checkpoints load as before, in every sampling mode."""
    keys = set(vibench.build(M_01).state_dict())
    assert set(_seeded().state_dict()) == keys
    assert not any("fractions" in k for k in keys)
    assert not any("fractions" in name for name, _ in _seeded().named_buffers())


def test_seeded_starts_are_the_previous_buffers() -> None:
    """The starts equal those of the float32 buffer drawn at construction before (same seed, same outputs)."""
    text_params = {"eval_sampling": "seeded", "sampling_seed": 3}
    model = vibench.build("isfm/embedding/E_01_HSE", **text_params).eval()
    sampler = model.patches
    x, fs = torch.randn(2, 1000, 2), torch.full((2,), 8000.0)
    fractions = torch.rand(2, sampler.num_patches, generator=torch.Generator().manual_seed(3))  # the old buffer
    last_l, last_c = 1000 - sampler.patch_size_L, 2 - sampler.patch_size_C
    start_l = (fractions[0] * (last_l + 1)).long().clamp(max=last_l)
    start_c = (fractions[1] * (last_c + 1)).long().clamp(max=last_c)
    with torch.no_grad():
        patches = sampler(x, fs).reshape(2, sampler.num_patches, sampler.patch_size_L, 2)
    assert torch.equal(patches[:, :, 0, 0], x[:, start_l, start_c])
    torch.testing.assert_close(patches[:, :, 0, 1], (start_l.float() * (1.0 / fs[0])).expand(2, -1))
    assert torch.equal(torch.as_tensor(sampler.fractions), fractions)  # the same values (now Python floats)


def test_seeded_starts_survive_copies_and_casts() -> None:
    model = _seeded()
    args = _inputs()
    with torch.no_grad():
        expected = model(*args)
        assert torch.equal(copy.deepcopy(model)(*args), expected)
        assert torch.equal(pickle.loads(pickle.dumps(model))(*args), expected)
        assert torch.equal(copy.deepcopy(model).to("cpu")(*args), expected)
        # the starts do not depend on the model's dtype: a double model reads the same patches
        double = copy.deepcopy(model).double()
        x, fs, sid = args
        torch.testing.assert_close(double(x.double(), fs, sid).float(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_seeded_model_scripts_and_exports() -> None:
    model = _seeded()
    args = _inputs()
    with torch.no_grad():
        expected = model(*args)
        assert torch.equal(torch.jit.script(model)(*args), expected)
        torch.testing.assert_close(torch.export.export(model, args).module()(*args), expected)


# -- hints ----------------------------------------------------------------------------------------


def test_a_0d_fs_for_a_batch_gets_a_hint_that_works() -> None:
    model = _seeded()  # fixed patches: the outputs can be compared
    x, _, sid = _inputs(length=512)
    fs = torch.tensor(12000.0)
    with pytest.raises(ValueError) as err:
        model(x, fs, sid)
    assert str(err.value).endswith("(the same for every sample? `fs.expand(B)` fits, or `fs.unsqueeze(0)` for a "
                                   "batch of 1)")
    with torch.no_grad():
        assert torch.equal(model(x, fs.expand(2), sid), model(x, torch.full((2,), 12000.0), sid))
        model(x[:1], fs.unsqueeze(0), sid[:1])  # the other advice, for a batch of one
    with pytest.raises(ValueError, match=r"`fs.expand\(B\).to\(torch.float32\)` fits"):
        model(x, fs.double(), sid)
    with pytest.raises(ValueError, match=r"input `system_id` .* `system_id.expand\(B\)` fits"):
        model(x, torch.full((2,), 12000.0), torch.tensor(1))
    with torch.no_grad():
        model(x, torch.full((2,), 12000.0), torch.tensor(1).expand(2))


SPEC = ("vibench: 1\nname: Two\ninputs: {x: {shape: [B, L, C]}, c: {shape: [B, L, C]}}\n"
        "nodes: {s: {block: add, in: [x, c]}}\noutputs: {y: s}\n")


def test_a_later_input_without_its_batch_axis_is_told_to_expand() -> None:
    """Rank r - 1 for rank r: the batch axis of an input after the first takes the first's size."""
    model = vibench.build(text=SPEC).eval()
    x, c = torch.randn(2, 64, 3), torch.randn(64, 3)
    with pytest.raises(ValueError) as err:
        model(x, c)
    assert str(err.value).endswith("(the same for every sample? `c.expand(B, -1, -1)` fits, or `c.unsqueeze(0)` "
                                   "for a batch of 1)")
    torch.testing.assert_close(model(x, c.expand(2, -1, -1)), x + c)
    # the first input sets B: one sample without its batch axis, or a last axis left out (sizes cannot tell)
    with pytest.raises(ValueError, match=r"\(one sample without its batch axis\? `x.unsqueeze\(0\)` fits; or an axis "
                       r"of size 1 left out\? `x.unsqueeze\(-1\)` fits\)$"):
        model(torch.randn(64, 3), c)
