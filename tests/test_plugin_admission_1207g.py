"""A refused plug-in block costs nothing but itself, and a native's module state is never copied silently.

What was wrong: the registry counted native names over every plug-in class found, before any other check, so
a block refused for its own fault (a parameter named `lambda`, the name `relu` of a built-in) still claimed
its native's name (`Gen`) and knocked out a valid block of another plug-in with its own `Gen` (E110 at the
node, "its native `Gen` has the name of another plug-in's native", without saying which); and two copies of
the example `haar_dwt` plug-in were refused only for that native clash, never for the more useful "two
plug-ins register `haar_dwt`". And `free_names` missed a name a native's method declares `global` and only
augments or assigns (`global COUNT; COUNT += 1`: symtable does not mark it as read), so that block was
admitted and model.py failed at run time with a NameError.

What is right now: only blocks that pass every other check count for a native-name clash, whose W121 names
the rival block, entry point and distribution; a block name two plug-ins register is reported as that; a
name declared `global` in a native counts as a module-level name it depends on (W121).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.test_plugins_contract import HEADER
from tests.test_plugins_loading import HAAR, install, run_python, spec_text
from vibench.compiler.blocks import contract

BAD = HEADER + '''

class Gen(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


LambdaParams = type("LambdaParams", (BlockParams,), {"__annotations__": {"lambda": int}, "lambda": 1})


class Keyword(Block):
    """A parameter named like a Python keyword: refused."""

    name, Params, natives = "f_kw", LambdaParams, (Gen,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("Gen")


class Relu(Block):
    """A built-in's name: refused."""

    name, Params, natives = "relu", KParams, (Gen,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("Gen")


register(Keyword)
register(Relu)
'''

GOOD = HEADER + '''

class Gen(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + {value}


native_block({name!r}, Gen)
'''


def test_a_refused_block_does_not_claim_its_natives_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "p_bad", {"p_bad/__init__.py": BAD}, ["a_bad = p_bad"])
    install(site, "p_good", {"p_good/__init__.py": GOOD.format(name="f_name", value=1)}, ["b_good = p_good"])
    (tmp_path / "spec.yaml").write_text(spec_text("f_name", shape="[B, 3, L]"))
    run = run_python("""
        import torch
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
        assert main(["spec.yaml", "-o", "model.py"]) == 0
        import model
        x = torch.randn(2, 3, 5)
        assert torch.equal(model.M()(x), x + 1)
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    lead = "warning[W121]: plug-in block `{}` of `a_bad = p_bad` (distribution p_bad 0.1) is refused: "
    assert lead.format("f_kw") in run.stderr and lead.format("relu") in run.stderr, run.stderr[-3000:]
    assert "f_name" not in run.stderr and "has the name of" not in run.stderr, run.stderr[-3000:]


def test_a_native_clash_names_the_rival_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "p_one", {"p_one/__init__.py": GOOD.format(name="gen_one", value=1)}, ["one = p_one"])
    install(site, "p_two", {"p_two/__init__.py": GOOD.format(name="gen_two", value=2)}, ["two = p_two"])
    (tmp_path / "spec.yaml").write_text(spec_text("gen_two", shape="[B, 3, L]"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "--check"]) == 1
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert "error[E110]: unknown block `gen_two`" in run.stderr, run.stderr[-3000:]
    assert "plug-in block `gen_two` of `two = p_two` (distribution p_two 0.1) was refused: its native `Gen` has " \
        "the name of another plug-in's native, of block `gen_one` of `one = p_one` (distribution p_one 0.1)" \
        in run.stderr, run.stderr[-3000:]


def test_two_copies_of_a_plugin_are_refused_for_the_block_name_they_share(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(Path(HAAR) / "vibench_haar", site / "vibench_haar")
    install(site, "vibench_haar", {}, ["haar_dwt = vibench_haar.haar"])
    shutil.copytree(Path(HAAR) / "vibench_haar", site / "my_haar")
    install(site, "my_haar", {}, ["haar_dwt = my_haar.haar"])
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "plug-in block `haar_dwt` is refused: two plug-ins register it, `haar_dwt = my_haar.haar` (distribution " \
        "my_haar 0.1) and `haar_dwt = vibench_haar.haar` (distribution vibench_haar 0.1)" in run.stderr, run.stderr
    assert "has the name of" not in run.stderr


GLOBAL = HEADER + '''
COUNT = 0


class Counted(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        global COUNT
        COUNT += 1
        return x


native_block("counted", Counted)
'''


def test_a_native_that_keeps_state_in_a_global_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "p_global", {"p_global/__init__.py": GLOBAL}, ["counted = p_global"])
    (tmp_path / "spec.yaml").write_text(spec_text("counted", shape="[B, 3, L]"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "-o", "model.py"]) == 1
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert not (tmp_path / "model.py").exists()
    assert "its native `Counted` keeps state in the module-level name `COUNT` (`global COUNT`), which model.py " \
        "does not define" in run.stderr, run.stderr[-3000:]


def test_a_name_declared_global_is_a_module_level_name_the_native_needs() -> None:
    assert contract.free_names("def f(x):\n    global T\n    T += 1\n    return x\n") == {"T"}
    assert contract.free_names("def f(x):\n    global T\n    T = x\n") == {"T"}  # assigned only
    assert contract.free_names("def f():\n    global T\n    return T\n") == {"T"}  # read only
    assert contract.free_names("class A:\n    def f(self):\n        def g():\n            global U\n"
                               "            U = 1\n        return g\n") == {"U"}
    assert contract.free_names("class A:\n    global V\n    V = 1\n") == {"V"}
    nonlocal_only = "def f():\n    x = 0\n    def g():\n        nonlocal x\n        x += 1\n    return g\n"
    assert contract.free_names(nonlocal_only) == set()
