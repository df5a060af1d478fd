"""A plug-in block whose methods raise, or return what they may not, is error E114 at the node that uses it,
naming the block, its plug-in and what went wrong — never an internal error of vibench, a traceback, or a
wrong model.py. The code a plug-in adds to model.py must be code nodes: text is refused, never parsed, so
that no spec value a plug-in formats into text becomes code.

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import vibench
from tests.test_plugins_loading import install, run_python, spec_text
from vibench.compiler import registry
from vibench.compiler.cli import main

HEADER = '''
import ast

from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


class LabelParams(BlockParams):
    label: str = Field("a", description="A label.")
'''

IDENTITY = '''
def infer(self, p, ins, ctx):
    return [ins[0]]
'''
TANH = '''
def call_code(self, p, args, mod):
    return c.call("torch.tanh", args[0])
'''


def block(name: str, body: str, params: str = "KParams", outputs: str = '("out",)') -> str:
    """A registered plug-in block class: ``body`` holds its methods (written at the left margin)."""
    methods = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return f'''

@register
class B_{name}(Block):
    """Plug-in block {name}."""

    name = {name!r}
    Params = {params}
    outputs = {outputs}

{methods}
'''


# name -> the methods it has; each is wrong in one way
FAILING = {
    "infer_raises": 'def infer(self, p, ins, ctx):\n    raise RuntimeError("plugin infer exploded")\n' + TANH,
    "infer_none": "def infer(self, p, ins, ctx):\n    return None\n" + TANH,
    "infer_ints": "def infer(self, p, ins, ctx):\n    return [1, 2, 3]\n" + TANH,
    "infer_empty": "def infer(self, p, ins, ctx):\n    return []\n" + TANH,
    "infer_bare": "def infer(self, p, ins, ctx):\n    return ins[0]\n" + TANH,
    "infer_badshape": 'def infer(self, p, ins, ctx):\n    return [TensorType(("B", "nonsense"), "float32")]\n' + TANH,
    "infer_negative": 'def infer(self, p, ins, ctx):\n    return [TensorType((-1, 4), "float32")]\n' + TANH,
    "infer_two": "def infer(self, p, ins, ctx):\n    return [ins[0], ins[0]]\n" + TANH,
    "infer_baddtype": 'def infer(self, p, ins, ctx):\n    return [TensorType(ins[0].shape, "float99")]\n' + TANH,
    "infer_exits": "def infer(self, p, ins, ctx):\n    raise SystemExit(3)\n" + TANH,
    "infer_noisy": "def infer(self, p, ins, ctx):\n"
                   '    raise ValueError("one\\nerror[E999]: forged\\x1b[2J" + "x" * 5000)\n' + TANH,
    "flops_raises": IDENTITY + TANH + "def flops(self, p, ins, outs):\n    return 1 / 0\n",
    "pc_str": IDENTITY + TANH + 'def param_count(self, p, ins):\n    return "lots"\n',
    "pc_neg": IDENTITY + TANH + "def param_count(self, p, ins):\n    return -5\n",
    "buffers_bool": IDENTITY + TANH + "def buffer_count(self, p, ins):\n    return True\n",
    "init_raises": IDENTITY + 'def init_code(self, p):\n    raise RuntimeError("plugin init_code exploded")\n',
    "call_raises": IDENTITY + 'def call_code(self, p, args, mod):\n    raise KeyError("plugin call_code exploded")\n',
    "call_returns_int": IDENTITY + "def call_code(self, p, args, mod):\n    return 42\n",
    "natives_wrong": IDENTITY + TANH + "def native_classes(self, p):\n    return (int,)\n",
}
# name -> (params, methods): code given as text, or with a name that is not one
TEXT = {
    "init_text": ("LabelParams", IDENTITY + '''
def init_code(self, p):
    return f"nn.Identity() if '{p.label}' else None"
'''),
    "call_text": ("KParams", IDENTITY + '''
def call_code(self, p, args, mod):
    return "torch.tanh(_vb_in0)"
'''),
    "call_name": ("LabelParams", IDENTITY + '''
def call_code(self, p, args, mod):
    return ast.Call(ast.Name(p.label, ast.Load()), [args[0]], [])
'''),
    "call_object": ("KParams", IDENTITY + '''
def call_code(self, p, args, mod):
    return c.call("torch.mul", args[0], ast.Constant(value=Ellipsis.__class__))
'''),
}
GOOD = {
    "good": IDENTITY + TANH,
    "labelled": IDENTITY + "def init_code(self, p):\n    return c.call(\"nn.Identity\", c.const(p.label))\n",
    "two_out": 'def infer(self, p, ins, ctx):\n    return [ins[0], ins[0]]\n\n'
               'def call_code(self, p, args, mod):\n'
               '    return c.tuple_of(c.call("torch.tanh", args[0]), c.call("torch.sigmoid", args[0]))\n',
    "any_out": 'def infer(self, p, ins, ctx):\n    return [ins[0]] * 3\n\n'
               'def call_code(self, p, args, mod):\n    return c.tuple_of(args[0], args[0], args[0])\n',
    "shape_fails": 'def infer(self, p, ins, ctx):\n    raise ctx.fail("no input fits", port="x")\n' + TANH,
}
OUTPUTS = {"two_out": '("a", "b")', "any_out": "()"}
PARAMS = {"labelled": "LabelParams"}


def _plugin() -> str:
    text = HEADER
    for name, body in {**FAILING, **GOOD}.items():
        text += block(name, body, PARAMS.get(name, "KParams"), OUTPUTS.get(name, '("out",)'))
    for name, (params, body) in TEXT.items():
        text += block(name, body, params)
    return text


def _install(site: Path) -> None:
    install(site, "p_failing", {"p_failing/__init__.py": _plugin()}, ["failing = p_failing"])


SPEC = spec_text("BLOCK", shape="[B, 4, L]")
ORIGIN = "is a block of the plug-in `failing = p_failing` (distribution p_failing 0.1)"


def _compile_each(tmp_path: Path, blocks: list[str], labels: dict[str, str] | None = None) -> dict[str, dict]:
    """For each block, in one fresh process: the exit codes of `--check` and `-o`, the diagnostics of
    vibench.check and the codes the language server shows."""
    site = tmp_path / "site"
    _install(site)
    specs = {}
    for name in blocks:
        text = SPEC.replace("BLOCK", name)
        if labels and name in labels:
            text = text.replace(f"block: {name}, ", f"block: {name}, label: {json.dumps(labels[name])}, ")
        if OUTPUTS.get(name) == "()":  # numbered outputs: a bare name reads none of them (E405), `n0.0` the first
            text = text.replace("{y: n0}", "{y: n0.0}")
        (tmp_path / f"{name}.yaml").write_text(text)
        specs[name] = text
    run = run_python(f"""
        import json, os
        import vibench
        from vibench.compiler.cli import main
        from vibench.lsp import checking

        out = {{}}
        for name, text in {specs!r}.items():
            got = {{"check": main([f"{{name}}.yaml", "--check"])}}
            got["emit"] = main([f"{{name}}.yaml", "-o", f"{{name}}.py"])
            got["written"] = os.path.exists(f"{{name}}.py")
            try:
                vibench.check(text=text)
                got["diagnostics"] = []
            except vibench.SpecError as err:
                got["diagnostics"] = [d.to_json() for d in err.diagnostics]
                got["rendered"] = err.render()
            got["lsp"] = [d.code for d in checking.check(text, None, 1, []).diagnostics]
            out[name] = got
        print(json.dumps(out))
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "this is a bug" not in run.stderr, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_plugin_block_that_raises_or_returns_a_wrong_value_is_an_error_at_its_node(tmp_path: Path) -> None:
    """Each of `infer`, `flops`, `param_count`, `buffer_count`, `init_code`, `call_code` and
    `native_classes` raising or returning the wrong kind of value: E114 at the node from `--check` (exit 1),
    `-o` (no file written), vibench.check and the language server — not exit 3 and a traceback."""
    results = _compile_each(tmp_path, list(FAILING))
    for name, got in results.items():
        assert (got["check"], got["emit"], got["written"]) == (1, 1, False), (name, got)
        (diag,) = got["diagnostics"]
        assert diag["code"] == "E114" and diag["node"] == "n0" and (diag["line"], diag["column"]) == (5, 3), diag
        assert diag["message"].startswith(f"plug-in block `{name}` failed at node `n0`: "), diag
        assert f"`{name}` {ORIGIN}" in diag["notes"], diag
        assert got["lsp"] == ["E114"], (name, got["lsp"])
    messages = {name: got["diagnostics"][0]["message"].split(": ", 1)[1] for name, got in results.items()}
    found = {name: got["diagnostics"][0].get("found") for name, got in results.items()}
    assert messages["infer_raises"] == "its `infer` raised RuntimeError"
    assert found["infer_raises"] == "RuntimeError: plugin infer exploded"
    assert messages["infer_exits"] == "its `infer` raised SystemExit"
    assert messages["call_raises"] == "its `call_code` raised KeyError"
    assert found["call_raises"] == "KeyError: 'plugin call_code exploded'"
    assert found["flops_raises"] == "ZeroDivisionError: division by zero"
    assert messages["infer_none"] == "`infer` returned a wrong value" and found["infer_none"] == "None"
    assert messages["infer_bare"] == "`infer` returned a wrong value"
    assert messages["infer_two"] == "`infer` returned 2 outputs for 1 output port"  # (was `n0, _ = torch.tanh(x)`)
    assert messages["infer_empty"] == "`infer` returned 0 outputs for 1 output port"
    assert messages["infer_ints"] == "`infer` returned 3 outputs for 1 output port"
    assert found["infer_badshape"] == "dimension 0 is 'B' (in ('B', 'nonsense'))"
    assert found["infer_negative"] == "dimension 0 is -1 (in (-1, 4))"
    assert messages["infer_baddtype"] == "`infer` returned an unknown dtype for output 0"  # was written into model.py
    assert found["infer_baddtype"] == "'float99'"
    assert messages["pc_str"] == "`param_count` returned a wrong value" and found["pc_str"] == "'lots'"
    assert messages["pc_neg"] == "`param_count` returned a negative number"  # it lowered the --max-params total
    assert messages["buffers_bool"] == "`buffer_count` returned a wrong value"
    assert messages["call_returns_int"] == "`call_code` returned 42, not an expression"
    assert messages["natives_wrong"] == "`native_classes` returned a wrong value"
    noisy = found["infer_noisy"]  # a plug-in's message is any text: one line, bounded, escapes drawn
    assert noisy.startswith("ValueError: one\\nerror[E999]: forged\x1b[2Jxxx") and len(noisy) < 250, noisy
    shown = results["infer_noisy"]["rendered"]
    assert "\x1b" not in shown and "\nerror[E999]" not in shown
    rendered = results["infer_raises"]["rendered"]
    assert "error[E114]: plug-in block `infer_raises` failed at node `n0`: its `infer` raised RuntimeError" in rendered
    assert "= hint: the plug-in is at fault, not the spec" in rendered


def test_code_a_plugin_gives_as_text_is_refused_not_pasted_into_model_py(tmp_path: Path) -> None:
    """A plug-in that formats a spec's string into source text, or into a name node, would let the spec
    write code into model.py (the label below ran a shell command when the model was built): refused with
    E114 saying code must be code nodes; a label given as `c.const` is a literal, and the model builds."""
    hostile = "x' and __import__('os').system('touch PWNED') == 0 and '"
    labels = {"init_text": hostile, "call_name": "__import__('os').system('touch PWNED')", "labelled": hostile}
    results = _compile_each(tmp_path, [*TEXT, "labelled"], labels)
    for name in TEXT:
        got = results[name]
        assert (got["check"], got["emit"], got["written"]) == (1, 1, False), (name, got)
        (diag,) = got["diagnostics"]
        assert diag["code"] == "E114", diag
    init = results["init_text"]["diagnostics"][0]
    assert init["message"] == "plug-in block `init_text` failed at node `n0`: `init_code` returned text, not code nodes"
    assert init["expected"].startswith("code nodes built with vibench.compiler.codegen.code (`c.call`, `c.ref`")
    assert any("never from pasted text" in note for note in init["notes"])
    assert results["call_text"]["diagnostics"][0]["message"].endswith("`call_code` returned text, not code nodes")
    assert "not an identifier" in results["call_name"]["diagnostics"][0]["message"]
    assert "not a plain value" in results["call_object"]["diagnostics"][0]["message"]
    assert results["labelled"]["diagnostics"] == [] and results["labelled"]["written"]
    model = (tmp_path / "labelled.py").read_text()
    assert f"self.n0 = nn.Identity({json.dumps(hostile)})" in model, model
    run = run_python("import torch, labelled; print(labelled.M()(torch.ones(1, 4, 8)).shape)", [], tmp_path)
    assert run.returncode == 0 and "torch.Size([1, 4, 8])" in run.stdout, run.stderr[-2000:]
    assert not (tmp_path / "PWNED").exists()


def test_plugin_blocks_that_keep_the_contract_compile_and_run(tmp_path: Path) -> None:
    """The checks refuse nothing a plug-in may do: two named outputs, any number of outputs (`outputs = ()`),
    a shape error raised with `ctx.fail` (the spec's error, E301)."""
    results = _compile_each(tmp_path, ["good", "two_out", "any_out", "shape_fails"])
    for name in ("good", "two_out", "any_out"):
        assert results[name]["diagnostics"] == [] and results[name]["written"], (name, results[name])
    assert [d["code"] for d in results["shape_fails"]["diagnostics"]] == ["E301"]
    model = (tmp_path / "two_out.py").read_text()
    assert "n0, _ = (torch.tanh(x), torch.sigmoid(x))" in model, model
    run = run_python("""
        import torch, good, two_out, any_out
        for m in (good, two_out, any_out):
            print(tuple(m.M()(torch.ones(2, 4, 8)).shape))
    """, [], tmp_path)
    assert run.returncode == 0 and run.stdout.split() == ["(2,", "4,", "8)"] * 3, run.stderr[-2000:]


def test_a_plugin_that_fails_only_when_model_py_is_written_is_an_error_there(tmp_path: Path) -> None:
    """The emitter checks its own calls too: a plug-in whose code changes after the shapes pass (text from
    `call_code`, an `init_code` that raises, an `unpack` that is no assignment target) is E114 at the node
    when model.py is written."""
    site = tmp_path / "site"
    _install(site)
    run = run_python(f"""
        import ast
        import vibench
        from vibench.compiler import registry
        from vibench.compiler.emit import emit

        def broken(name, method, replacement):
            program = vibench.check(text={SPEC!r}.replace("BLOCK", name))
            setattr(type(registry.get(name)), method, replacement)
            try:
                emit(program)
            except vibench.SpecError as err:
                (d,) = err.diagnostics
                print(d.code, d.node, d.pos.line, d.message)

        broken("good", "call_code", lambda self, p, args, mod: "torch.tanh(_vb_in0)")
        broken("labelled", "init_code", lambda self, p: 1 / 0)
        broken("two_out", "unpack", lambda self, outs: ast.Call(ast.Name("f", ast.Load()), outs, []))
    """, [site], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == [
        "E114 n0 5 plug-in block `good` failed at node `n0`: `call_code` returned text, not code nodes",
        "E114 n0 5 plug-in block `labelled` failed at node `n0`: its `init_code` raised ZeroDivisionError",
        "E114 n0 5 plug-in block `two_out` failed at node `n0`: `unpack` returned a Call node where only names "
        "may stand",
    ]


def test_a_vibench_block_that_fails_is_still_an_internal_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Only blocks that are not vibench's own are checked: a built-in block raising is a bug in vibench,
    and stays one (the exception itself; exit code 3), not an error blamed on a plug-in."""
    relu = registry.get("relu")
    assert relu is not None

    def broken(self: object, p: object, ins: object, ctx: object) -> None:
        raise RuntimeError("a bug in a built-in block")

    monkeypatch.setattr(type(relu), "infer", broken)
    text = spec_text("relu", shape="[B, 4, L]")
    with pytest.raises(RuntimeError, match="a bug in a built-in block"):
        vibench.check(text=text)
    path = tmp_path / "relu.yaml"
    path.write_text(text)
    assert main([str(path), "--check"]) == 3
    assert "internal error" in capsys.readouterr().err


def test_a_block_a_script_registers_is_checked_too(tmp_path: Path) -> None:
    """A block registered by a script (not through an entry point) is not vibench's own either: E114, naming
    the module that registered it."""
    run = run_python(f"""
        import vibench
        from pydantic import Field
        from vibench.compiler.blocks.base import Block
        from vibench.compiler.registry import register
        from vibench.schemas.blocks import BlockParams

        class KParams(BlockParams):
            k: int = Field(1, ge=1, description="k.")

        @register
        class Scripted(Block):
            \"\"\"A block of this script.\"\"\"

            name = "scripted"
            Params = KParams

            def infer(self, p, ins, ctx):
                return None

        try:
            vibench.check(text={SPEC.replace("BLOCK", "scripted")!r})
        except vibench.SpecError as err:
            (d,) = err.diagnostics
            print(d.code, d.message)
            print(d.notes[0])
    """, [], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == [
        "E114 plug-in block `scripted` failed at node `n0`: `infer` returned a wrong value",
        "`scripted` is a block of the module `__main__` (registered by it, not through a `vibench.blocks` entry point)",
    ]
