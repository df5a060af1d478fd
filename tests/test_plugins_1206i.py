"""Plug-in blocks, as the QA pass of 1206i found them (docs/extending.md, "What a plug-in block must be"):

* a bytes constant in a block's code is E114 at the node (it passed `--check`, then `-o` stopped with an
  AssertionError of the layout);
* a `SystemExit` or `GeneratorExit` of a block's constructor, its `description` or a `json_schema_extra`
  function refuses that block (W121): it ended vibench with the plug-in's exit code, or a traceback; a Ctrl-C
  there still stops the run;
* a block refused because its constructor raises gets a note in an unknown block's E110, as every refusal does;
* a native redefined under an `if` (model.py would copy the top-level definition, not the registered one) is
  refused, as are natives given as strings and natives with a non-ASCII name (each was a "this is a bug");
* a parameter with an alias of any kind is refused with that reason (it was "making its parameters' JSON Schema
  raised KeyError"), and a parameter named `class` is called a Python keyword.

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_plugins_loading import install, run_python, spec_text

PLUGIN = '''
from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field, create_model
from pydantic.alias_generators import to_camel

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams, NoParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class _Same(Block):
    Params = NoParams

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0]) if self.init_code(p) is None else c.call(mod, args[0])


class Doubler(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


@register
class Fine(_Same):
    """A native block nothing is wrong with."""

    name, natives = "fine_double", (Doubler,)

    def init_code(self, p):
        return c.call("Doubler")


@register
class BytesCode(_Same):
    name = "bytes_code"

    def call_code(self, p, args, mod):
        return c.call("torch.mul", args[0], ast.Constant(b"x"))


@register
class InitExit(_Same):
    name = "init_exit"

    def __init__(self):
        raise SystemExit(3)


@register
class InitGen(_Same):
    name = "init_gen"

    def __init__(self):
        raise GeneratorExit("ctor")


@register
class InitArgs(_Same):
    name = "init_args"

    def __init__(self, required):
        pass


@register
class DescExit(_Same):
    name = "desc_exit"

    @property
    def description(self):
        raise SystemExit(4)


def _exit(schema):
    raise SystemExit(5)


class ExitParams(BlockParams):
    k: int = Field(2, json_schema_extra=_exit, description="k.")


@register
class SchemaExit(_Same):
    name, Params = "schema_exit", ExitParams


class Twice(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


if True:
    class Twice(nn.Module):  # what `natives` holds; model.py would copy the class above
        def forward(self, x):
            return x * 100


@register
class Redefined(_Same):
    name, natives = "redefined", (Twice,)

    def init_code(self, p):
        return c.call("Twice")


def halve(x):
    return x / 2


try:
    def halve(x):
        return x / 100
except ImportError:
    pass


@register
class RedefinedFunction(_Same):
    name, natives = "redefined_function", (halve,)

    def call_code(self, p, args, mod):
        return c.call("halve", args[0])


class Plain(nn.Module):
    scale = 2


Plain = type("Plain", (nn.Module,), {"__module__": __name__, "scale": 100})


@register
class RedefinedPlain(_Same):
    name, natives = "redefined_plain", (Plain,)

    def init_code(self, p):
        return c.call("Plain")


class Tripler(nn.Module):
    @staticmethod
    def factor():
        return 3

    @property
    def scale(self):
        return self.factor()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


@register
class Decorated(_Same):
    """A native defined once, of a staticmethod and a property: admitted."""

    name, natives = "decorated_native", (Tripler,)

    def init_code(self, p):
        return c.call("Tripler")


@register
class NamedNative(_Same):
    name, natives = "named_native", ("Doubler",)


class Größe(nn.Module):
    def forward(self, x):
        return x


@register
class Unicode(_Same):
    name, natives = "unicode_native", (Größe,)


class AliasParams(BlockParams):
    k: int = Field(2, ge=1, alias="kk", description="k.")


class ValidationAliasParams(BlockParams):
    k: int = Field(2, ge=1, validation_alias="kk", description="k.")


class SerializationAliasParams(BlockParams):
    k: int = Field(2, ge=1, serialization_alias="kk", description="k.")


class GeneratedParams(BlockParams):
    model_config = ConfigDict(alias_generator=to_camel)
    k_val: int = Field(2, ge=1, description="k.")


class SameNameParams(BlockParams):  # (an alias that is the parameter's own name changes nothing)
    k: int = Field(2, ge=1, alias="k", description="k.")


@register
class Alias(_Same):
    name, Params = "alias_param", AliasParams


@register
class ValidationAlias(_Same):
    name, Params = "validation_alias", ValidationAliasParams


@register
class SerializationAlias(_Same):
    name, Params = "serialization_alias", SerializationAliasParams


@register
class Generated(_Same):
    name, Params = "generated_alias", GeneratedParams


@register
class SameName(_Same):
    name, Params = "same_name_alias", SameNameParams


@register
class Keyword(_Same):
    name = "keyword_param"
    Params = create_model("KeywordParams", __base__=BlockParams, **{"class": (int, Field(2, ge=1))})
'''

REFUSED = ("init_exit", "init_gen", "init_args", "desc_exit", "schema_exit", "redefined", "redefined_function",
           "redefined_plain", "named_native", "unicode_native", "alias_param", "validation_alias",
           "serialization_alias", "generated_alias", "keyword_param")
SPECS = {"bytes": spec_text("bytes_code"), "fine": spec_text("fine_double"), "init_args": spec_text("init_args"),
         "init_exit": spec_text("init_exit"), "decorated": spec_text("decorated_native"),
         "same_name": spec_text("same_name_alias"), "alias": spec_text("alias_param")}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The plug-in warnings by block, the plug-in blocks admitted, and for each spec its diagnostics or model.py."""
    tmp = tmp_path_factory.mktemp("p1206i")
    install(tmp / "site", "p_i", {"p_i/__init__.py": PLUGIN}, ["i = p_i"])
    run = run_python(f"""
        import json
        import vibench
        from vibench.compiler import registry

        out = {{"specs": {{}}}}
        for name, text in {SPECS!r}.items():
            try:
                out["specs"][name] = vibench.compile_spec(text=text).source
            except vibench.SpecError as err:
                out["specs"][name] = [d.to_json() for d in err.diagnostics]
        out["warnings"] = {{d.message.split("`")[1]: d.to_json() for d in registry.plugin_warnings()}}
        out["admitted"] = sorted(n for n in registry.all_blocks() if n not in registry.builtin_names())
        print(json.dumps(out))
    """, [tmp / "site"], tmp)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _refusal(results: dict, block: str) -> str:
    warning = results["warnings"][block]
    assert warning["code"] == "W121" and "is refused: " in warning["message"], warning
    return warning["message"].split("is refused: ", 1)[1]  # type: ignore[no-any-return]


def _only(results: dict, spec: str) -> dict:
    found = results["specs"][spec]
    assert isinstance(found, list) and len(found) == 1, found
    return found[0]  # type: ignore[no-any-return]


def test_each_refused_block_costs_only_itself(results: dict) -> None:
    assert results["admitted"] == ["bytes_code", "decorated_native", "fine_double", "same_name_alias"]
    assert set(results["warnings"]) == set(REFUSED)
    assert "self.n0 = Doubler()" in results["specs"]["fine"]


def test_a_bytes_constant_is_the_plugins_error_at_the_node(results: dict) -> None:
    """It passed the checks, then writing model.py stopped with an AssertionError (flat_expressions)."""
    found = _only(results, "bytes")
    assert (found["code"], found["node"]) == ("E114", "n0"), found
    assert "`call_code` returned the constant b'x', a bytes value, which model.py's code never writes" in \
        found["message"], found


def test_a_system_exit_of_the_plugin_refuses_only_its_block(results: dict) -> None:
    """SystemExit and GeneratorExit are no Exception: they ended vibench (exit 3, or a traceback)."""
    assert _refusal(results, "init_exit") == "it cannot be created (SystemExit: 3)"
    assert _refusal(results, "init_gen") == "it cannot be created (GeneratorExit: ctor)"
    assert _refusal(results, "desc_exit") == "its `description` raised SystemExit: 4"
    assert _refusal(results, "schema_exit") == "making its parameters' JSON Schema raised SystemExit: 5"
    notes = " ".join(results["warnings"]["init_exit"]["notes"])
    assert "raise SystemExit(3)" in notes and "InitExit is defined at" in notes, notes


def test_a_block_whose_constructor_raises_is_noted_in_E110(results: dict) -> None:
    for spec, why in (("init_args", "it cannot be created (TypeError: "), ("init_exit", "it cannot be created "
                                                                          "(SystemExit: 3)")):
        found = _only(results, spec)
        assert found["code"] == "E110", found
        assert any(f"was refused: {why}" in note for note in found["notes"]), found["notes"]


def test_a_native_that_is_not_the_top_level_definition_is_refused(results: dict) -> None:
    """model.py copies the top-level `class Twice`; `natives` held the one defined again under `if True:`."""
    twice = _refusal(results, "redefined")
    assert twice.startswith("its native <class 'p_i.Twice'> is not the top-level definition of `Twice` at "), twice
    assert "whose source model.py would copy: its methods are defined at line " in twice, twice
    assert "define each native once" in results["warnings"]["redefined"]["hint"]
    halve = _refusal(results, "redefined_function")
    assert "is not the top-level definition of `halve` at " in halve and ": it is defined at line " in halve, halve
    plain = _refusal(results, "redefined_plain")  # (no method to tell them apart: the name bound twice)
    assert "may not be the top-level definition of `Plain`" in plain and "binds `Plain` again" in plain, plain
    assert "self.n0 = Tripler()" in results["specs"]["decorated"]  # (a staticmethod and a property: told apart)


def test_a_native_named_by_a_string_or_in_unicode_is_refused_with_the_reason(results: dict) -> None:
    """They were "native `Doubler` not found (this is a bug)" and, at every node, "not an identifier: 'Größe'
    (this is a bug)"."""
    named = _refusal(results, "named_native")
    assert named.startswith("its native 'Doubler' is a string: `natives` holds the native classes and functions "
                            "themselves"), named
    assert results["warnings"]["named_native"]["hint"] == "list the class or function itself, as `natives = " \
                                                          "(Doubler,)`"
    assert _refusal(results, "unicode_native") == ("its native 'Größe' has a name model.py cannot write: not an "
                                                   "identifier of ASCII letters, digits and `_`")


def test_a_parameter_with_an_alias_is_refused_with_the_reason(results: dict) -> None:
    """Each was refused as "making its parameters' JSON Schema raised KeyError: 'kk'"."""
    assert _refusal(results, "alias_param").startswith("parameter `k` has the alias 'kk' (`alias`), which a spec "
                                                       "would have to write instead of its name")
    assert _refusal(results, "validation_alias").startswith("parameter `k` has the alias 'kk' (`validation_alias`)")
    assert _refusal(results, "serialization_alias").startswith("parameter `k` has the alias 'kk' "
                                                               "(`serialization_alias`)")
    generated = results["warnings"]["generated_alias"]
    assert _refusal(results, "generated_alias").startswith("parameter `k_val` has the alias 'kVal' (its "
                                                           "`model_config`'s `alias_generator` gives it)")
    assert generated["hint"] == "drop the `alias_generator` from the `model_config`"
    assert "KeyError" not in json.dumps(results["warnings"])
    assert "`k`" in _only(results, "alias")["notes"][0]
    assert "torch.tanh(x)" in results["specs"]["same_name"]


def test_a_parameter_named_like_a_keyword_is_called_one(results: dict) -> None:
    assert _refusal(results, "keyword_param") == ("parameter `class` is a Python keyword: model.py passes a "
                                                  "parameter as a keyword argument, and `class=...` is a syntax "
                                                  "error there")


INTERRUPTED = '''
from vibench.compiler.registry import register
from vibench.schemas.blocks import NoParams
from vibench.compiler.blocks.base import Block


@register
class Stop(Block):
    name, Params = "stop_now", NoParams

    def __init__(self):
        raise KeyboardInterrupt

    def infer(self, p, ins, ctx):
        return [ins[0]]
'''


def test_a_ctrl_c_while_a_block_is_created_still_stops_the_run(tmp_path: Path) -> None:
    install(tmp_path / "site", "p_stop", {"p_stop/__init__.py": INTERRUPTED}, ["stop = p_stop"])
    run = run_python("""
        from vibench.compiler import registry

        try:
            registry.all_blocks()
        except KeyboardInterrupt:
            print("interrupted", registry._state["plugins"])
    """, [tmp_path / "site"], tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "interrupted False", run.stdout + run.stderr[-2000:]
