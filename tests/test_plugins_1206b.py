"""Block plug-ins that misbehave in ways the QA pass of 1206 found: one that prints (its text must never reach
vibench-compile's standard output, and the Python API leaves the caller's `sys.stdout` alone), a native that
imports a module inside its methods (model.py needs only torch), code that calls a name model.py does not
define (E114 now, not a NameError when model.py runs), and failures located in the plug-in's own files
(E114, W120, W121: file, line and source line; W120's hint fits the failure).

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT
from tests.test_plugins_loading import install, run_python, spec_text

HEADER = '''
from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class KParams(BlockParams):
    k: int = Field(2, ge=1, description="k.")
'''

PRINTER = HEADER + '''
print("PLUGIN-SAYS import")
sys.stdout.write("PLUGIN-SAYS import write\\n")


class Scale(nn.Module):
    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.k


@register
class PrinterBlock(Block):
    """Prints everywhere."""

    name, Params, category, natives = "p_print", KParams, "qa", (Scale,)

    def infer(self, p, ins, ctx):
        print("PLUGIN-SAYS infer " + "x" * 20000)  # more than a pipe's buffer: flushed at once
        return [ins[0]]

    def init_code(self, p):
        print("PLUGIN-SAYS init_code")
        return c.call("Scale", k=p.k)


@register
class StdoutThiefBlock(Block):
    """Replaces sys.stdout and never puts it back."""

    name, Params, category = "p_thief", KParams, "qa"

    def infer(self, p, ins, ctx):
        import io

        sys.stdout = io.StringIO()
        return [ins[0]]

    def call_code(self, p, args, mod):
        print("PLUGIN-SAYS call_code")
        return c.call("torch.relu", args[0])


class LoudParams(BlockParams):
    k: int = Field(2, ge=1, description="k.", validate_default=True)

    @field_validator("k")
    @classmethod
    def _k(cls, v):
        print("PLUGIN-SAYS validator")
        return v

    @model_validator(mode="after")
    def _all(self):
        print("PLUGIN-SAYS model_validator")
        import io

        sys.stdout = io.StringIO()  # and never put back: model.py still reaches standard output
        return self


@register
class ValidatedBlock(Block):
    """Its parameters' pydantic validators print (they ran outside the guarded plug-in calls: QA of 1206b)."""

    name, Params, category = "p_valid", LoudParams, "qa"

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.binop(args[0], "*", p.k)
'''


def _printer_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    install(site, "p_printer", {"p_printer/__init__.py": PRINTER}, ["printer = p_printer"])
    (tmp_path / "spec.yaml").write_text(spec_text("p_print", "p_thief", "p_valid", shape="[B, 2, L]"))
    return site


def _cli(args: list[str], site: Path, cwd: Path, **popen: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), ROOT]), "VIBENCH_CACHE": "0"}
    return subprocess.run([sys.executable, "-m", "vibench.compiler.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, **popen)  # type: ignore[call-overload]


# --------------------------------------------------------------------------------------------
# 1. a plug-in's printing
# --------------------------------------------------------------------------------------------


def test_a_printing_plugin_leaves_model_py_on_standard_output_intact(tmp_path: Path) -> None:
    """`-o -` writes model.py, and nothing else, to standard output: the same bytes as `-o FILE`; what the
    plug-in printed (at import, in `infer`, `init_code`, `call_code`) is on standard error."""
    site = _printer_site(tmp_path)
    piped = _cli(["spec.yaml", "-o", "-"], site, tmp_path)
    assert piped.returncode == 0, piped.stderr[-3000:]
    assert "PLUGIN-SAYS" not in piped.stdout
    for where in ("import", "import write", "infer", "init_code", "call_code", "validator", "model_validator"):
        assert f"PLUGIN-SAYS {where}" in piped.stderr, where
    written = _cli(["spec.yaml", "-o", "model.py"], site, tmp_path)
    assert written.returncode == 0, written.stderr[-3000:]
    assert piped.stdout == (tmp_path / "model.py").read_text(encoding="utf-8")
    compile(piped.stdout, "model.py", "exec")


def test_a_printing_plugin_leaves_the_json_report_the_schema_and_the_catalogue_valid(tmp_path: Path) -> None:
    site = _printer_site(tmp_path)
    report = _cli(["spec.yaml", "--check", "--format", "json"], site, tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    assert json.loads(report.stdout)["ok"] is True
    schema = _cli(["schema"], site, tmp_path)
    assert schema.returncode == 0, schema.stderr[-3000:]
    assert "p_print" in json.dumps(json.loads(schema.stdout))
    listed = _cli(["--blocks", "--format", "json"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "p_print" in [entry["name"] for entry in json.loads(listed.stdout)]
    for args in (["--blocks"], ["--blocks", "p_print"]):
        text = _cli(args, site, tmp_path)
        assert text.returncode == 0 and "p_print" in text.stdout, text.stderr[-3000:]
        assert "PLUGIN-SAYS" not in text.stdout and "PLUGIN-SAYS import" in text.stderr
    for run in (report, schema, listed):
        assert "PLUGIN-SAYS" not in run.stdout and "PLUGIN-SAYS import" in run.stderr


def test_a_printing_plugin_under_a_closed_pipe_is_no_plugin_failure(tmp_path: Path) -> None:
    """`vibench-compile spec.yaml --check | head -0`: the plug-in's print (past a pipe's buffer) raised
    BrokenPipeError inside the plug-in, reported as E114; it goes to standard error now."""
    site = _printer_site(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), ROOT]), "VIBENCH_CACHE": "0"}
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        run = subprocess.run([sys.executable, "-m", "vibench.compiler.cli", "spec.yaml", "--check"], cwd=tmp_path,
                             env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert "E114" not in run.stderr and "BrokenPipeError" not in run.stderr, run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "PLUGIN-SAYS infer" in run.stderr


def test_the_python_api_leaves_the_callers_stdout_alone(tmp_path: Path) -> None:
    """`vibench.compile_spec` and `vibench.build` return their results: the plug-in's print goes to the
    caller's own `sys.stdout` (vibench redirects nothing there), never into model.py's source."""
    site = _printer_site(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec_text("p_print", shape="[B, 2, L]"))
    run = run_python("""
        import contextlib, io, sys
        import vibench

        mine = io.StringIO()
        with contextlib.redirect_stdout(mine):
            source = vibench.compile_spec(text=open("spec.yaml").read()).source
            assert sys.stdout is mine
        assert "PLUGIN-SAYS" not in source, source
        compile(source, "model.py", "exec")
        assert "PLUGIN-SAYS infer" in mine.getvalue() and "PLUGIN-SAYS init_code" in mine.getvalue()
        caught = io.StringIO()
        with contextlib.redirect_stdout(caught):
            model = vibench.build("spec.yaml")
            assert sys.stdout is caught
        print("built", type(model).__name__)
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "built M" in run.stdout


# --------------------------------------------------------------------------------------------
# 2. a native that imports a module
# --------------------------------------------------------------------------------------------

IMPORTERS = HEADER + '''

class ScipyScale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import numpy
        return x * float(numpy.sqrt(2.0))


class MathScale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import itertools
        import math
        import warnings

        import torch.nn.functional as F
        if not list(itertools.islice(x.shape, 1)):
            warnings.warn("empty")
        return F.relu(x) * math.sqrt(2.0)


@register
class InlineImportBlock(Block):
    """Its native imports numpy inside forward."""

    name, Params, category, natives = "p_inline", KParams, "qa", (ScipyScale,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("ScipyScale")


@register
class MathImportBlock(Block):
    """Its native imports the standard library (math, itertools, warnings) and torch.nn.functional inside
    forward: model.py runs wherever Python and torch do (the standard library was refused at first)."""

    name, Params, category, natives = "p_math", KParams, "qa", (MathScale,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("MathScale")


@register
class ImportsNumpyBlock(Block):
    """Lists numpy in `imports`."""

    name, Params, category, imports = "p_imports", KParams, "qa", ("numpy",)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.relu", args[0])
'''


def test_a_native_that_imports_a_module_inside_its_methods_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "p_importers", {"p_importers/__init__.py": IMPORTERS}, ["importers = p_importers"])
    (tmp_path / "inline.yaml").write_text(spec_text("p_inline", shape="[B, 2, L]"))
    (tmp_path / "math.yaml").write_text(spec_text("p_math", shape="[B, 2, L]"))
    run = run_python("""
        import json
        from vibench.compiler import registry
        from vibench.compiler.cli import main
        assert main(["inline.yaml", "--check"]) == 1
        assert main(["math.yaml", "-o", "model.py"]) == 0
        print(json.dumps([w.to_json() for w in registry.plugin_warnings()]))
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    warnings = {w["message"].split(" of ")[0]: w for w in json.loads(run.stdout.splitlines()[-1])}
    plugin = str(site / "p_importers" / "__init__.py")
    inline = warnings["plug-in block `p_inline`"]
    line = IMPORTERS.splitlines().index("        import numpy") + 1
    assert inline["code"] == "W121" and inline["found"] == "p_importers.InlineImportBlock", inline
    assert f"its native `ScipyScale` imports `numpy` (at {plugin}:{line})" in inline["message"], inline
    assert "model.py needs only torch" in inline["hint"] and "inside its methods" not in inline["hint"]
    imports = warnings["plug-in block `p_imports`"]
    assert "its `imports` ['numpy']" in imports["message"], imports
    assert "model.py needs only torch" in imports["hint"] and "inside its methods" not in imports["hint"], imports
    assert "plug-in block `p_math`" not in warnings  # torch and the standard library: wherever model.py runs
    assert "error[E110]: unknown block `p_inline`" in run.stderr
    assert "import numpy" not in (tmp_path / "model.py").read_text()


# --------------------------------------------------------------------------------------------
# 3. code that reads a name model.py does not define
# --------------------------------------------------------------------------------------------

UNDEFINED = HEADER + '''

class Scale(nn.Module):
    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.k


def helper(x):
    return x


@register
class NoNativeBlock(Block):
    """Forgets its natives."""

    name, Params, category = "p_nonative", KParams, "qa"

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("Scale", k=p.k)


@register
class TypoBlock(Block):
    """Misspells its native."""

    name, Params, category, natives = "p_typo", KParams, "qa", (Scale,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("Scal", k=p.k)


@register
class HelperCallBlock(Block):
    """Calls a function of its module in forward, and F without listing it in `imports`."""

    name, Params, category = "p_helper", KParams, "qa"

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("helper", args[0])


@register
class NoFBlock(Block):
    """Calls F without listing it in `imports`."""

    name, Params, category = "p_nof", KParams, "qa"

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("F.gelu", args[0])


@register
class GoodBlock(Block):
    """Reads only what model.py defines: its native, torch, builtins, its `imports` and its arguments."""

    name, Params, category, natives, imports = "p_good", KParams, "qa", (Scale,), ("F", "math")

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("Scale", k=c.call("int", c.call("math.sqrt", p.k * p.k)))

    def call_code(self, p, args, mod):
        return c.call("F.gelu", c.call(mod, args[0]))
'''


def test_code_that_reads_a_name_model_py_does_not_define_is_e114(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "p_undefined", {"p_undefined/__init__.py": UNDEFINED}, ["undefined = p_undefined"])
    for name in ("p_nonative", "p_typo", "p_helper", "p_nof", "p_good"):
        (tmp_path / f"{name}.yaml").write_text(spec_text(name, shape="[B, 2, L]"))
    run = run_python("""
        import contextlib, io, json
        from vibench.compiler.cli import main
        reports = []
        for name in ("p_nonative", "p_typo", "p_helper", "p_nof"):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert main([name + ".yaml", "--check", "--format", "json"]) == 1, name
            reports.append(json.loads(out.getvalue()))
        assert main(["p_good.yaml", "-o", "model.py"]) == 0
        print(json.dumps(reports))
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    nonative, typo, helper, nof = (r["diagnostics"][0] for r in json.loads(run.stdout))
    for d in (nonative, typo, helper, nof):
        assert d["code"] == "E114" and "which model.py does not define" in d["message"], d
    assert "plug-in block `p_nonative`" in nonative["message"] and "`init_code` reads the name `Scale`" in \
        nonative["message"]
    assert any("list it in the block's `natives`" in n for n in nonative["notes"]), nonative
    assert "`Scal`" in typo["message"] and "did you mean `Scale`?" in typo["notes"], typo
    assert "`call_code` reads the name `helper`" in helper["message"], helper
    assert "the name `F`" in nof["message"] and any('lists "F" in its `imports`' in n for n in nof["notes"]), nof
    # the block that reads only what model.py defines builds and runs
    alone = run_python("""
        import sys, torch
        sys.modules["vibench"] = None
        import model
        assert model.M()(torch.randn(1, 2, 5)).shape == (1, 2, 5)
        print("ok")
    """, [], tmp_path)
    assert alone.stdout.strip() == "ok", alone.stderr[-2000:]


# --------------------------------------------------------------------------------------------
# 4. failures located in the plug-in's own files
# --------------------------------------------------------------------------------------------

RAISES = HEADER + '''

@register
class RaisesBlock(Block):
    """Its infer raises."""

    name, Params, category = "p_raises", KParams, "qa"

    def infer(self, p, ins, ctx):
        (t,) = ins
        return [lookup(t)]

    def call_code(self, p, args, mod):
        return c.call("torch.relu", args[0])


def lookup(t):
    return {"a": t}["b"]


@register
class RefusedBlock(Block):
    """Refused: it has no shape rule."""

    name, Params, category = "p_refused", KParams, "qa"
'''


NAMED = "\n\nGAIN = undefined_name * 2\n"


def _line(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def test_failures_name_the_plugin_file_and_line(tmp_path: Path) -> None:
    """E114 (an exception in `infer`), W120 (a NameError, a SyntaxError and a missing module at import) and
    W121 (a refused class) point at the plug-in's own file and line, in text and JSON, never at vibench's;
    W120's hint says to fix the plug-in for its own bug, to install a missing module for an ImportError."""
    site = tmp_path / "site"
    install(site, "p_raises", {"p_raises/__init__.py": RAISES}, ["raises = p_raises"])
    install(site, "p_named", {"p_named/__init__.py": HEADER + NAMED}, ["named = p_named"])
    install(site, "p_syntax", {"p_syntax/__init__.py": "X = 1\n\ndef f(x):\n    return x +* 2\n"},
            ["syntax = p_syntax"])
    install(site, "p_needs", {"p_needs/__init__.py": "import os\nimport scipy_is_not_installed_here\n"},
            ["needs = p_needs"])
    (tmp_path / "spec.yaml").write_text(spec_text("p_raises", shape="[B, 2, L]"))
    run = run_python("""
        import contextlib, io, json
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "--check"]) == 1
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["spec.yaml", "--check", "--format", "json"]) == 1
        assert main(["--blocks", "p_raises"]) == 0
        print("JSON:" + json.dumps(json.loads(out.getvalue())))
    """, [site], tmp_path)
    assert "Traceback" not in run.stderr and "this is a bug" not in run.stderr, run.stderr[-3000:]
    raises = site / "p_raises" / "__init__.py"
    at = f"{raises}:{_line(RAISES, 'return {')}"
    note = f'raised at {at}: `return {{"a": t}}["b"]`'
    assert f"= note: {note}" in run.stderr, run.stderr[-4000:]  # text
    report = json.loads(run.stdout[run.stdout.index("JSON:") + 5:].splitlines()[0])
    e114 = report["diagnostics"][0]
    assert e114["code"] == "E114" and e114["found"] == "KeyError: 'b'" and note in e114["notes"], e114  # JSON
    assert not any("vibench/compiler" in n or "plugin_calls" in n for n in e114["notes"]), e114
    blocks = run.stderr[run.stderr.index("warning[W"):]
    named_at = f"{site / 'p_named' / '__init__.py'}:{_line(HEADER + NAMED, 'GAIN =')}"
    assert f"NameError: name 'undefined_name' is not defined\n  = note: raised at {named_at}: " \
        f"`GAIN = undefined_name * 2`\n  = hint: its blocks are unavailable: a bug in the plug-in's own code, not a " \
        f"missing dependency: fix the plug-in at {named_at}" in blocks, blocks
    syntax_at = f"{site / 'p_syntax' / '__init__.py'}:4"
    assert f"= note: raised at {syntax_at}: `return x +* 2`" in blocks and f"fix the plug-in at {syntax_at}" in blocks
    needs_at = f"{site / 'p_needs' / '__init__.py'}:2"
    assert f"= note: raised at {needs_at}: `import scipy_is_not_installed_here`\n  = hint: its blocks are " \
        "unavailable: install the module `scipy_is_not_installed_here` it imports" in blocks, blocks
    refused_at = f"{raises}:{_line(RAISES, 'class RefusedBlock')}"
    assert "warning[W121]: plug-in block `p_refused`" in blocks
    assert f"= note: p_raises.RefusedBlock is defined at {refused_at}" in blocks, blocks
    assert "vibench/compiler" not in blocks


def test_code_of_a_kind_model_py_does_not_write_is_e114_not_an_internal_error() -> None:
    """A plug-in's call_code returning a lambda, a dict or set comprehension, `:=` or an f-string reached the
    emitter, which stopped with "internal error ... cannot lay out Lambda (this is a bug)" (a QA pass of 1206b)."""
    import ast

    from vibench.compiler.plugin_calls import code_problem

    for text, kind in [("(lambda t, s=2: t * s)(x)", "Lambda"), ("{i: v for i, v in enumerate([x])}[0]", "DictComp"),
                       ("(y := x)", "NamedExpr"), ("x if f'{1}' == '1' else x", "JoinedStr"),
                       ("len({v for v in [x]})", "SetComp"), ("len({x})", "Set")]:
        problem = code_problem(ast.parse(text, mode="eval").body)
        assert problem is not None and problem.startswith(f"a {kind} node, which model.py's code does not use"), text
    for text in ["torch.stack([u * 2 for u in x.unbind(1)], dim=1)", "x[..., :None] * 1", "-x ** 2 if x else (x, *y)",
                 "torch.clamp(x, **{'min': -1.0})", "sum(v for v in x)", "not a and b < c <= d"]:
        assert code_problem(ast.parse(text, mode="eval").body) is None, text
