"""The Python API's defects of the 1206i QA pass.

* model.py's regenerate line wrote a str given in Python as it is and other values as JSON: `activation="relu "`
  became `--set 'activation=relu '`, which the command line reads as YAML (`relu`, another model); `tag="1"` the
  int 1 (E202); a line break a space; a str Enum `Mode.X`; `float("inf")` `Infinity` (E202). Each value is now
  the YAML text `--set` reads back as that value.
* `compile_spec(out_path=Path(...))` was an AttributeError deep in the header; `inplace` was checked after the
  compile.
* A meta tensor as a parameter value or a size was torch's RuntimeError (`.item()`); `tensor([64])` was a size
  but no parameter value (the docs say 0-d).
* `inputs={"x": itertools.repeat(1)}` read for ever.
* `max_nodes=np.int64(1000)` was refused.
* docs/api.md said a copy of a model whose module left fails `torch.jit.script`: only when its source is gone.
"""

from __future__ import annotations

import enum
import itertools
import math
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest
import torch

import vibench
from vibench.api import _TINY
from vibench.compiler.cli import main
from vibench.compiler.cli_args import _parse_sets

TINY = _TINY.lstrip()  # the API pages' small classifier

ANY = TINY.replace("params: {num_classes: 4}", "params: {num_classes: 4, v: {type: any, default: 0}}")

TWO_FIXED = """vibench: 1
name: Two
params:
  mode: {type: str, default: a}
  tag: {type: str, default: b}
inputs: {x: {shape: [B, 1, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, padding: 1}
  act: {block: relu, in: conv, when: "${mode == '1' and tag != 'z'}"}
  pool: {block: adaptive_avg_pool1d, in: act, output_size: 1}
  flat: {block: flatten, in: pool}
  fc: {block: linear, in: flat, out_features: 4}
outputs: {logits: fc}
"""


class Mode(str, enum.Enum):
    X = "relu"


class Count(enum.IntEnum):
    A = 5


class Odd(int):
    def __repr__(self) -> str:
        return "__import__('os').system('echo PWNED')"

    __str__ = __repr__


class Ratio(float):
    def __repr__(self) -> str:
        return "Ratio()"


def regenerate_words(source: str) -> list[str]:
    """The words bash reads from model.py's Regenerate comment (its lines without `# `, `Regenerate: ` dropped)."""
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Regenerate: "))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    assert all(line.isprintable() for line in lines[:end]), lines[:end]  # comments only, no line break inside
    text = "\n".join(line[2:] for line in lines[start:end]).removeprefix("Regenerate: ")
    text = text.removesuffix(", the spec on standard input")  # (compiled from text=)
    done = subprocess.run(["bash", "-c", f"set -- {text}\nprintf '%s\\0' \"$@\""], capture_output=True, check=True)
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


def set_value(source: str, name: str) -> Any:
    """The value of ``name`` as `vibench-compile` reads the regenerate line's `--set` word for it."""
    words = regenerate_words(source)
    sets = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--set" and words[i + 1].startswith(f"{name}=")]
    assert len(sets) == 1, words
    values, _ = _parse_sets(sets)
    return values[name]


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0 nor True; -0.0 is not 0.0; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return same(list(a), list(b)) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


ROUND_TRIP = [  # (value given in Python, the value the command line must read)
    *[(s, s) for s in ["relu", "relu ", " x", "1", "1e3", "0x10", "null", "~", "true", "Yes", "on", "y", "[1]", "",
                       "a=b", "it's $(id) `x` \"q\"\n2", "tab\there", "cr\r\nlf", "\x7f\x1b\x00", "\u2028\u0085",
                       "\ufeff\u202e", "é ü", "你好", "😀", "#c", "a #c", "a: b", "${1}", "--set", "-", ".inf",
                       "back\\slash", "'", '"', "cnn/ResNet1D", "_x"]],
    (0, 0), (-3, -3), (2**62, 2**62), (1.5, 1.5), (-0.0, -0.0), (1e-300, 1e-300), (5e-324, 5e-324), (1e20, 1e20),
    (float("inf"), float("inf")), (float("-inf"), float("-inf")), (None, None), (True, True), (False, False),
    ([1, "a", None, 1.0, [float("inf")]], [1, "a", None, 1.0, [float("inf")]]), ((1, 2), [1, 2]), ([], []),
    ({"b": 2, "a": 3}, {"b": 2, "a": 3}), ({1: "x", None: 2, 1.5: [-0.0], "k": {"n": "1"}},
                                           {1: "x", None: 2, 1.5: [-0.0], "k": {"n": "1"}}),
    ({"a b": "c\nd"}, {"a b": "c\nd"}), (np.int64(3), 3), (torch.tensor(2.5), 2.5), ([np.float32(0.5)], [0.5]),
]


@pytest.mark.parametrize(("value", "read"), ROUND_TRIP, ids=[repr(v)[:30] for v, _ in ROUND_TRIP])
def test_the_regenerate_lines_set_word_reads_back_as_the_value_given(value: Any, read: Any) -> None:
    source = vibench.compile_spec(text=ANY, params={"v": value}).source
    assert same(set_value(source, "v"), read)


TYPED = ANY.replace("v: {type: any, default: 0}", 'n: {type: int, default: 1}, r: {type: float, default: 0.5}, '
                    's: {type: str, default: a}, names: {type: "list[str]", default: []}')


def test_a_subclass_of_int_float_or_str_is_written_as_the_plain_value_it_holds() -> None:
    """An IntEnum, a str Enum, or a class whose repr is code: the value the compiler read, never the repr."""
    params = {"n": Count.A, "r": Ratio(0.25), "s": Mode.X, "names": [Mode.X], "num_classes": Odd(7)}
    source = vibench.compile_spec(text=TYPED, params=params).source
    read = {name: set_value(source, name) for name in params}
    assert same(read, {"n": 5, "r": 0.25, "s": "relu", "names": ["relu"], "num_classes": 7})
    assert "PWNED" not in source and "Ratio()" not in source and "Mode.X" not in source


@pytest.mark.parametrize("params", [{"tag": "relu "}, {"tag": "it's $(id) `x` \"q\"\n2"}, {"tag": "1"},
                                    {"mode": "1", "tag": "[1]"}, {"mode": Mode.X}])
def test_the_regenerate_line_compiles_the_model_the_api_compiled(tmp_path: pathlib.Path, params: dict) -> None:
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_FIXED)
    source = vibench.compile_spec(str(spec), params=params).source
    words = regenerate_words(source)
    assert words[:2] == ["vibench-compile", str(spec)]
    out = tmp_path / "model.py"
    args = [w if w != "model.py" else str(out) for w in words[2:]]
    assert main([words[1], *args]) == 0
    def body(text: str) -> list[str]:  # (the header names the -o path)
        return list(itertools.dropwhile(lambda line: line.startswith("#"), text.splitlines()))

    assert body(out.read_text()) == body(source)


def test_a_built_classs_message_writes_the_other_settings_as_set_reads_them() -> None:
    model = vibench.build(text=TWO_FIXED, mode="1", tag="1")
    with pytest.raises(ValueError, match="differs from the value") as err:
        type(model)(mode="2")
    assert "--set 'tag=\"1\"'" in str(err.value) and "--set mode=..." in str(err.value)


def test_compile_spec_takes_a_path_object_as_out_path_and_names_a_wrong_one() -> None:
    source = vibench.compile_spec(text=TINY, out_path=pathlib.Path("out dir/m.py")).source
    assert regenerate_words(source)[2:4] == ["-o", "out dir/m.py"]
    for wrong in (5, b"m.py"):
        with pytest.raises(TypeError, match=r"^out_path is the path of the model.py"):
            vibench.compile_spec(text=TINY, out_path=wrong)


def test_compile_spec_checks_inplace_before_compiling() -> None:
    with pytest.raises(TypeError, match="inplace must be True or False"):
        vibench.compile_spec(text="vibench: 1\nnodes: [", inplace=1)  # a spec that does not load: not its E001


def test_a_meta_tensor_as_a_parameter_value_is_e202() -> None:
    meta = torch.tensor(5, device="meta")
    for call in (lambda: vibench.build(text=TINY, num_classes=meta),
                 lambda: vibench.check(text=TINY, params={"num_classes": [meta]})):
        with pytest.raises(vibench.SpecError) as err:
            call()
        assert [d.code for d in err.value.diagnostics] == ["E202"]
        assert "device='meta'" in str(err.value) and "given in Python" in str(err.value)


@pytest.mark.parametrize(("size", "found"), [(torch.tensor(64, device="meta"), "not a meta tensor"),
                                             (torch.tensor([64]), "not a 1-d Tensor"),
                                             (np.array([64]), "not a 1-d ndarray")])
def test_a_size_is_an_integer_or_a_0d_tensor_as_a_parameter_value_is(size: Any, found: str) -> None:
    with pytest.raises(TypeError, match=rf"^inputs\['x'\]: sizes are integers.*{found}"):
        vibench.check(text=TINY, inputs={"x": (2, 1, size)})
    with pytest.raises(vibench.SpecError):  # the same value as a parameter: E202
        vibench.check(text=TINY, params={"num_classes": size})
    program = vibench.check(text=TINY, inputs={"x": (2, 1, torch.tensor(64))}, params={"num_classes": np.int64(3)})
    assert program.bindings == (("B", 2), ("L", 64))


def test_an_endless_iterator_of_sizes_is_refused_not_read_for_ever() -> None:
    def sizes():  # read past the limit: the old code took every element before looking at the rank
        for _ in range(2_000):
            yield 1
        raise AssertionError("read past the limit")

    for endless in (sizes(), itertools.repeat(1)):  # (in this order: the old code never ended the second)
        with pytest.raises(ValueError, match=r"^inputs\['x'\]: more than 1,000 sizes"):
            vibench.check(text=TINY, inputs={"x": endless})
    assert vibench.check(text=TINY, inputs={"x": iter((2, 1, 64))}).bindings == (("B", 2), ("L", 64))


def test_the_limits_take_numpy_integers() -> None:
    program = vibench.check(text=TINY, max_nodes=np.int64(1000), max_params=np.int32(10**6))
    assert program.request is not None and program.request.limits[:2] == (1000, 10**6)
    assert all(type(n) is int for n in program.request.limits)
    assert "--max-nodes 1000 --max-params 1000000" in vibench.compile_spec(text=TINY, max_nodes=np.int64(1000),
                                                                           max_params=np.int32(10**6)).source
    for wrong in (np.int64(0), True, 1.5, "5"):
        with pytest.raises(ValueError, match="max_nodes must be a positive integer"):
            vibench.check(text=TINY, max_nodes=wrong)


SCRIPT_A_COPY = textwrap.dedent("""
    import copy, gc, os, shutil, sys, warnings
    import torch, vibench
    warnings.simplefilter("ignore")
    TINY = {tiny!r}
    model = vibench.build(text=TINY, num_classes=3)
    name, file = type(model).__module__, type(model).forward.__code__.co_filename
    kept = open(file).read() if os.path.isfile(file) else None
    duplicate = copy.deepcopy(model)
    del model
    for n in range(4, 8):
        vibench.build(text=TINY, num_classes=n)
    gc.collect()
    assert name not in sys.modules
    def script():
        try:
            torch.jit.script(duplicate)
            return "scripts"
        except OSError:
            return "OSError"
    gone = script()
    if kept is not None:  # the file back in the cache folder, as it is until it is evicted
        with open(file, "w") as f:
            f.write(kept)
    print(gone, script() if kept is not None else "-")
""")


@pytest.mark.parametrize(("cache", "said"), [("0", "OSError -"), ("1", "OSError scripts")])
def test_a_copy_scripts_while_its_source_file_is_there_as_the_docs_say(tmp_path: pathlib.Path, cache: str,
                                                                      said: str) -> None:
    env = {"VIBENCH_CACHE": cache, "VIBENCH_CACHE_MAX": "2", "VIBENCH_CACHE_DIR": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT_A_COPY.format(tiny=TINY)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == said


def test_the_yaml_text_examples_run() -> None:
    import doctest

    from vibench.compiler import yaml_text

    result = doctest.testmod(yaml_text)
    assert result.attempted > 0 and result.failed == 0
