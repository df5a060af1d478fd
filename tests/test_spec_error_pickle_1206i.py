"""A SpecError crosses process boundaries and copies whole (multiprocessing workers raise them)."""

import copy
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

import vibench

BAD = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
       "nodes: {fc: {block: lineer, in: x, out_features: 2}}\noutputs: {y: fc}\n")


def _error() -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=BAD)
    return err.value


def _check_bad(_: int) -> None:
    vibench.check(text=BAD)


def test_a_spec_error_pickles_and_copies_with_its_diagnostics() -> None:
    # Exception's default rebuilt it from its message: unpickling iterated the message's characters as
    # diagnostics (AttributeError: 'str' object has no attribute 'pos').
    err = _error()
    for again in (pickle.loads(pickle.dumps(err)), copy.copy(err), copy.deepcopy(err)):
        assert type(again) is vibench.SpecError
        assert again.diagnostics == err.diagnostics and again.sources == err.sources
        assert str(again) == str(err) and again.codes == ["E110"]


def test_a_worker_process_raises_it_to_the_caller() -> None:
    # A ProcessPoolExecutor worker's SpecError broke the pool (BrokenProcessPool), multiprocessing.Pool hung.
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_check_bad, 0)
        with pytest.raises(vibench.SpecError) as err:
            future.result(timeout=120)
    assert err.value.codes == ["E110"] and "lineer" in str(err.value)
