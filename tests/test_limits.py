"""Resource limits, file safety and bounded messages, in-process (the CLI corpus is test_hostile.py).

Covers: expression bombs (no MemoryError, RecursionError or hang escapes the evaluator), the
compilation's shared expression budget, the loader's alias weights and bounded reads, parameter
values given from outside, the node and parameter budgets (defaults and overrides), bounded
diagnostics, PHM base-config confinement, and how outputs are written (symlinks, modes, `-o -`,
`--graph`).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli, expr, load
from vibench.compiler.diagnostics import MAX_FIELD, Diagnostic, SpecError, suggest
from vibench.compiler.ir import Pos
from vibench.compiler.phm_base import project_root

HERE = Path(__file__).resolve().parent
PLAIN = HERE / "hostile" / "inject_plain.yaml"


def evaluate(text: str, env: dict | None = None) -> object:
    return expr.evaluate_value(expr.parse_template("${" + text + "}", None), env or {})


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------

BOMBS = {
    "nested list literal": "[" * 150 + "1" + "]" * 150,
    "nested operators": "-" * 1500 + "1",
    "long operator chain": "+".join(["1"] * 500),
    "string multiplication": "('a' * 99999 + 'b') * 99999",
    "shared rows": "[[1] * 99999] * 99999",
    "shared rows printed": "str([[1] * 99999] * 99999)",
    "strings in a comprehension": "[('a' * 99999) for i in range(99999)]",
    "comparison of huge lists": "[[1] * 99999] * 99999 == [[1] * 99999] * 99999",
    "sum of ranges": "sum(range(99999)) * sum(range(99999)) * sum(range(99999))",
    "sum of lists": "sum([[1]] * 99999, [])",
    "nested comprehensions": "[[[[[[[[1 for a in range(10)] for b in range(10)] for c in range(10)] for d in range(10)]"
                             " for e in range(10)] for f in range(10)] for g in range(10)] for h in range(10)]",
    "comprehension product": "[i for i in range(99999) for j in range(99999)]",
    "min of shared rows": "min([[1] * 99999] * 99999)",
    "dict of ranges": "dict([[i, range(99999)] for i in range(99999)])",
    "percent format": "'%*d' % (999999999, 1)",
    "round to huge precision": "round(5, -10000000)",
    "power tower": "9 ** 9 ** 9",
    "long integer": "int('9' * 4300)",
    "infinite ceil": "ceil(float('inf'))",
    "value nested 70 deep": "[" * 70 + "1" + "]" * 70,
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_expression_bombs_are_expression_errors(name: str) -> None:
    with pytest.raises(expr.ExprError) as info:
        with expr.budget():
            evaluate(BOMBS[name])
    assert len(info.value.message) < 600 and len(info.value.text) <= 200


@pytest.mark.parametrize(("text", "message"), [
    ("{'a': 1}", "a mapping literal `{...}` is not allowed"),
    ("{x for x in [1]}", "a set comprehension is not allowed"),
    ("sum(x for x in [1])", "a generator expression is not allowed"),
    ("f'{1}'", "an f-string is not allowed"),
    ("[*[1]]", "unpacking with `*` is not allowed"),
    ("(y := 1)", "assignment with `:=` is not allowed"),
    ("().__class__", "attribute access is not allowed"),
])
def test_refused_syntax_is_named_in_the_users_words(text: str, message: str) -> None:
    # The messages named Python's AST classes: "`Dict` is not allowed", "`JoinedStr` is not allowed".
    with pytest.raises(expr.ExprError) as info:
        evaluate(text)
    assert info.value.message == message and info.value.hint


@pytest.mark.parametrize(("text", "message"), [
    ("int('9' * 4300)", "int() of a string of 4,300 characters (at most 100)"),  # not sys.set_int_max_str_digits
    ("(-8) ** (1 / 3)", "(-8) ** 0.333333 has no real value (a negative number to a fractional power)"),
    ("(-2.0) ** 0.5", "(-2.0) ** 0.5 has no real value (a negative number to a fractional power)"),
])
def test_values_without_a_spec_meaning_are_named(text: str, message: str) -> None:
    # A complex power reached the parameter check as `wrong type ... found (1.0000000000000002+1.73...j)`.
    with pytest.raises(expr.ExprError) as info:
        with expr.budget():
            evaluate(text)
    assert info.value.message == message
    assert evaluate("(-8) ** 2") == 64 and evaluate("int('12')") == 12 and evaluate("int('ff', 16)") == 255


def test_large_parameter_values_are_charged_by_size() -> None:
    env = {"rows": [[1] * 1000] * 50}  # 50,000 values
    assert evaluate("len(rows)", env) == 50
    with pytest.raises(expr.ExprError, match="too many steps"):
        evaluate("[rows for i in range(100)]", env)  # each copy reads 50,000 values


def test_ordinary_expressions_still_work() -> None:
    assert evaluate("sum([[1, 2], [3]], [])") == [1, 2, 3]
    assert evaluate("sum([1, 2, 3])") == 6
    assert evaluate("round(2.567, 2)") == 2.57
    assert evaluate("[i * 2 for i in range(5) if i != 2]") == [0, 2, 6, 8]
    assert evaluate("'k' in m", {"m": {str(k): k for k in range(10_000)}}) is False
    assert evaluate("'ab' * 3 + str(4)") == "ababab4"


def test_the_compilation_budget_is_shared_by_every_expression() -> None:
    cost = "len([i for i in range(20000)])"  # about 60,000 steps: within one expression's limit
    assert evaluate(cost) == 20000
    with expr.budget(200_000):
        evaluate(cost)
        evaluate(cost)
        with pytest.raises(expr.ExprError, match="together take too many steps"):
            evaluate(cost)
    assert evaluate(cost) == 20000  # outside a compilation, each expression stands alone


def test_repeated_expressions_exhaust_the_budget_of_a_compilation() -> None:
    text = (HERE / "hostile" / "expr_repeat_budget.yaml").read_text(encoding="utf-8")
    text = text.replace("range(20000)]) // 5000", "range(10000)]) // 2500").replace("repeat: 1000", "repeat: 40")
    with pytest.raises(SpecError) as info:  # 40 copies of about 40,000 steps
        vibench.check(text=text)
    assert info.value.codes == ["E204"] and "per compilation" in info.value.diagnostics[0].message
    program = vibench.check(text=text, max_nodes=300_000)  # ten steps per allowed node: 3,000,000
    assert len(program.root.nodes[0].copies) == 40


# --------------------------------------------------------------------------------------------
# Loading and values from outside
# --------------------------------------------------------------------------------------------


def test_aliases_of_long_strings_weigh_their_length() -> None:
    def text(copies: int) -> str:  # a string of 101 size units, aliased
        return 'a: &s "' + "x" * 6400 + '"\nb: [' + ", ".join(["*s"] * copies) + "]\n"

    with pytest.raises(SpecError) as info:
        load.load_text(text(1000))
    assert info.value.codes == ["E002"] and "aliases" in info.value.diagnostics[0].message
    assert len(load.load_text(text(100)).data["b"]) == 100  # some copies are fine


def test_aliases_may_add_ten_times_what_a_large_file_writes() -> None:
    rows = "\n".join(f"  r{k}: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" for k in range(4000))  # ~48,000 values written
    text = "base: &b [" + ", ".join(str(k) for k in range(100)) + "]\nrows:\n" + rows + "\n"
    text += "copies: [" + ", ".join(["*b"] * 1500) + "]\n"  # 150,000 values added
    assert len(load.load_text(text).data["copies"]) == 1500


def test_a_file_that_grows_past_its_size_is_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "grows.yaml"
    spec.write_text("vibench: 1\nname: M\ndoc: " + "x" * 500 + "\n", encoding="utf-8")
    monkeypatch.setattr(load, "MAX_BYTES", 100)
    real_fstat = os.fstat

    class Lying:  # the size a /proc file or a growing log would report
        def __init__(self, st: os.stat_result) -> None:
            self.st_mode, self.st_size = st.st_mode, 0

    monkeypatch.setattr(load.os, "fstat", lambda fd: Lying(real_fstat(fd)))
    with pytest.raises(SpecError) as info:
        load.read_spec_file(str(spec))
    assert info.value.codes == ["E002"] and "more than 100 bytes" in (info.value.diagnostics[0].found or "")


@pytest.mark.parametrize("special", ["fifo", "folder"])
def test_special_files_are_e004_through_the_api(special: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    os.mkfifo(path) if special == "fifo" else path.mkdir()
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    (d,) = info.value.diagnostics
    assert d.code == "E004" and "not a regular file" in d.message and d.pos is not None


def test_oversized_api_parameters_are_e202() -> None:
    deep: list = []
    for _ in range(10_000):
        deep = [deep]
    itself: list = []
    itself.append(itself)
    for value in (deep, itself, list(range(200_000)), "x" * 10_000_000):
        with pytest.raises(SpecError) as info:
            vibench.check(str(PLAIN), params={"width": value})
        assert info.value.codes == ["E202"] and "too large" in info.value.diagnostics[0].message


@pytest.mark.parametrize("value", [16**5000, -(2**62) - 1, [3, 2**70], {"k": 10**30}],
                         ids=["16**5000", "-2**62-1", "in-a-list", "in-a-dict"])
def test_api_integers_beyond_2_62_are_e202(value: object) -> None:
    # 16**5000 reached json.dumps in the model's header and raised ValueError (4,300 digits).
    with pytest.raises(SpecError) as info:
        vibench.check(str(PLAIN), params={"width": value})
    (d,) = info.value.diagnostics
    assert d.code == "E202" and "beyond 2**62" in d.message and d.pos is not None


HUGE_KERNEL = "vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\n" \
              "nodes: {c: {block: conv1d, in: x, out_channels: 4, kernel_size: %s}}\noutputs: {y: c}\n"


@pytest.mark.parametrize("literal", ["0x" + "f" * 5000, "9" * 5000, "9" * 30, "-4611686018427387905",
                                     "0b1" + "0" * 63, "0" * 2000 + "1", "1_000" * 300],
                         ids=["hex-5000", "dec-5000", "dec-30", "-2**62-1", "bin-2**63", "zeros", "underscores"])
def test_integers_beyond_2_62_in_a_file_are_e001_at_the_literal(literal: str) -> None:
    # The hexadecimal one passed the loader and crashed a constraint's message (int -> str beyond
    # 4,300 digits); 5,000 decimal digits were reported as a bad `!!int` tag the file does not have.
    text = HUGE_KERNEL % literal
    with pytest.raises(SpecError) as info:
        vibench.check(text=text)
    (d,) = info.value.diagnostics
    assert d.code == "E001" and d.message == "integer out of range", d.render()
    assert (d.pos.line, d.pos.col) == (4, text.splitlines()[3].index(literal) + 1)
    assert "2**62" in (d.expected or "") and "!!int" not in d.render() and len(d.render()) < 2000


def test_the_largest_integer_a_file_may_hold_is_2_62() -> None:
    for literal in ("4611686018427387904", "-4611686018427387904", "0x4000000000000000"):
        with pytest.raises(SpecError) as info:
            vibench.check(text=HUGE_KERNEL % literal)
        assert info.value.codes in (["E302"], ["E104"]), literal  # read; then no kernel that size works
    (conv,) = vibench.check(text=HUGE_KERNEL % ("0" * 900 + "7")).root.nodes
    assert conv.param_count == 4 * 1 * 7 + 4  # a kernel of 7: leading zeros are not digits of size


@pytest.mark.parametrize("value, message", [
    ("0x" + "f" * 5000, "integer out of range"),
    ("[" * 3000 + "]" * 3000, "nests deeper than 64"),
    ("x" * 20_000, "value too long"),
    ("&a [*a]", "refers to itself"),
])
def test_set_values_have_the_limits_of_a_spec(value: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(PLAIN), "--check", "--set", f"width={value}"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and len(err) < 1000


# --------------------------------------------------------------------------------------------
# Node and parameter budgets
# --------------------------------------------------------------------------------------------

CHAIN = "vibench: 1\nname: Chain\nparams: {depth: 10}\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n" \
        "  conv: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, repeat: \"${depth}\"}\noutputs: {y: conv}\n"


def test_node_budget_default_and_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(vibench.check(text=CHAIN, params={"depth": 100_000}).root.nodes[0].copies) == 100_000
    with pytest.raises(SpecError) as info:
        vibench.check(text=CHAIN, params={"depth": 100_001})
    assert info.value.codes == ["E213"]
    with pytest.raises(SpecError) as info:
        vibench.check(text=CHAIN, max_nodes=5)
    assert info.value.codes == ["E213"] and "at most 5 nodes" in (info.value.diagnostics[0].expected or "")
    with pytest.raises(ValueError, match="max_nodes"):
        vibench.check(text=CHAIN, max_nodes=0)


def test_parameter_budget_default_and_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = vibench.check(text=CHAIN)
    assert program.root.param_count == 200  # 10 layers of 4 x 4 + 4
    with pytest.raises(SpecError) as info:
        vibench.check(text=CHAIN, max_params=199)
    (d,) = info.value.diagnostics
    assert d.code == "E307" and "copy 10 of 10" in d.message and d.pos is not None
    spec = tmp_path / "chain.yaml"
    spec.write_text(CHAIN, encoding="utf-8")
    assert cli.main([str(spec), "--check", "--max-params", "199"]) == cli.EXIT_SPEC
    assert "error[E307]" in capsys.readouterr().err
    assert cli.main([str(spec), "--check", "--max-params", "200", "--max-nodes", "10"]) == cli.EXIT_OK
    assert cli.main([str(spec), "--check", "--max-nodes", "zero"]) == cli.EXIT_USAGE


def _table_spec(max_len: int) -> str:
    return ("vibench: 1\nname: Table\ninputs: {x: {shape: [B, 16, 8]}}\nnodes:\n"
            f"  pos: {{block: sinusoidal_positional_buffer, in: x, max_len: {max_len}}}\noutputs: {{y: pos}}\n")


def test_fixed_tables_count_against_the_parameter_budget() -> None:
    """A position table of 10**9 rows is 8 * 10**9 floats the constructor would allocate (32 GB): it
    was accepted with "0 parameters" and build() failed in torch's allocator. It is now E307 at the
    node, before any tensor exists; the parameter count shown stays the parameters'."""
    with pytest.raises(SpecError) as info:
        vibench.build(text=_table_spec(10**9))
    (d,) = info.value.diagnostics
    assert d.code == "E307" and d.message == "node `pos` has more parameters and fixed tables than the budget"
    assert d.found == "8,000,000,000 in this node (0 parameter and 8,000,000,000 table elements)"
    assert d.pos is not None and d.pos.line == 5
    assert vibench.check(text=_table_spec(10**9), max_params=8 * 10**9).root.param_count == 0  # the user's budget
    with pytest.raises(SpecError, match="E307"):
        vibench.check(text=_table_spec(5000), max_params=8 * 5000 - 1)
    assert vibench.build(text=_table_spec(5000), max_params=8 * 5000).pos.pe.shape == (5000, 1, 8)


@pytest.mark.parametrize(("node", "shape"), [
    ("{block: sinusoidal_positional_buffer, in: x, max_len: 40}", "[B, 16, 8]"),
    ("{block: sinusoidal_positional_encoding, in: x, max_len: 40}", "[B, 16, 8]"),
    ("{block: sinusoidal_position_table, in: x, d_model: 6, max_len: 40}", "[B, 16, 8]"),
    ("{block: graph_operator, in: x, num_layers: 2}", "[B, 7, 4]"),
    ("{block: graph_operator, in: x, num_layers: 2, use_spectral: false}", "[B, 7, 4]"),
])
def test_the_tables_counted_are_the_buffers_built(node: str, shape: str) -> None:
    text = f"vibench: 1\nname: T\ninputs: {{x: {{shape: {shape}}}}}\nnodes:\n  n: {node}\noutputs: {{y: n}}\n"
    counted = vibench.check(text=text).root.nodes[0].buffer_count
    assert counted > 0 and counted == sum(b.numel() for b in vibench.build(text=text).buffers())


def test_the_hse_sampler_counts_its_seeded_starts() -> None:
    text = ("vibench: 1\nname: T\ninputs: {x: {shape: [B, 256, 2]}, fs: {shape: [B]}}\nnodes:\n"
            "  n: {block: hse_patch_sampling, in: [x, fs], patch_size_L: 16, patch_size_C: 1, num_patches: 9}\n"
            "outputs: {y: n}\n")
    model = vibench.build(text=text)
    assert vibench.check(text=text).root.nodes[0].buffer_count == sum(map(len, model.n.fractions)) == 18


def test_modules_built_per_channel_count_as_nodes() -> None:
    """`individual` layers of 10,000,000 channels of one weight each were 20,000,000 parameters, within
    budget, and build() ran for minutes making nn.Linear modules; they now count against the node
    budget (E213), with a note saying why."""
    text = ("vibench: 1\nname: PerChannel\ninputs: {x: {shape: [B, 10000000, 1]}}\nnodes:\n"
            "  t: {block: temporal_linear, in: x, individual: true, out_features: 1}\noutputs: {y: t}\n")
    with pytest.raises(SpecError) as info:
        vibench.build(text=text)
    (d,) = info.value.diagnostics
    assert d.code == "E213" and d.found == "10,000,001 so far"
    assert d.notes[-1] == "a block's per-channel, per-layer or per-system modules count as nodes: this one builds " \
                          "10,000,000"
    assert vibench.check(text=text.replace("10000000", "99999")).root.nodes[0].copies[0].submodules == 99999


@pytest.mark.parametrize(("node", "small", "big"), [
    ("{block: temporal_linear, in: x, individual: true}", "[B, 3, 8]", "[B, 6, 8]"),
    ("{block: frequency_interpolation, in: x, cut_freq: 3}", "[B, 16, 2]", "[B, 16, 5]"),
    ("{block: neural_ode, in: x, num_layers: NL}", "2", "5"),
    ("{block: graph_operator, in: x, num_layers: NL}", "2", "5"),
    ("{block: isfm_system_classifier, in: [x, system_id], num_classes: NC}", "{1: 3}", "{1: 3, 2: 4, 7: 2}"),
])
def test_the_modules_counted_grow_with_the_modules_built(node: str, small: str, big: str) -> None:
    """The count never overstates what the constructor builds: going from the small setting to the big
    one builds at least as many more modules as the count adds."""
    def measured(setting: str) -> tuple[int, int]:
        shape = setting if setting.startswith("[") else "[B, 4, 6]"
        text = (f"vibench: 1\nname: M\ninputs: {{x: {{shape: {shape}}}, system_id: {{shape: [B], dtype: int64}}}}\n"
                f"nodes:\n  n: {node.replace('NL', setting).replace('NC', setting)}\noutputs: {{y: n}}\n")
        counted = vibench.check(text=text).root.nodes[0].copies[0].submodules
        return counted, len(list(vibench.build(text=text).modules()))

    (count_small, built_small), (count_big, built_big) = measured(small), measured(big)
    assert count_big > count_small >= 0
    assert built_big - built_small >= count_big - count_small


def test_a_graph_operator_takes_at_most_4096_nodes() -> None:
    """Its constructor computes the eigenvectors of the N x N Laplacian (time N^3)."""
    def spec(nodes: int) -> str:
        return ("vibench: 1\nname: G\ninputs: {x: {shape: [B, " + str(nodes) + ", 8]}}\nnodes:\n"
                "  g: {block: graph_operator, in: x, num_layers: 1}\noutputs: {y: g}\n")

    assert vibench.check(text=spec(4096)).root.nodes[0].buffer_count == 2 * 4096 * 4096
    with pytest.raises(SpecError) as info:
        vibench.check(text=spec(4097))
    (d,) = info.value.diagnostics
    assert d.code == "E302" and d.expected == "at most 4,096 graph nodes N (the second-last dimension)"
    assert d.found == "4097" and d.pos is not None and d.pos.line == 5


def test_composites_count_their_bodies() -> None:
    text = (HERE / "hostile" / "dos_nested_composites.yaml").read_text(encoding="utf-8")
    program = vibench.check(text=text.replace("repeat: 300", "repeat: 200"))  # 80,200 nodes
    assert len(program.root.nodes[0].copies) == 200
    with pytest.raises(SpecError) as info:
        vibench.check(text=text)
    assert info.value.codes == ["E213"] and "copy 250 of 300" in info.value.diagnostics[0].message


def test_a_100k_node_spec_answers_check(tmp_path: Path) -> None:
    """Linear in the number of nodes (about 10 s of CPU here for 100,000); the timeout only catches hangs."""
    lines = ["vibench: 1", "name: Chain", "inputs: {x: {shape: [B, 4, L]}}", "nodes:"]
    lines += [f"  n{k}: {{block: relu, in: {'n' + str(k - 1) if k else 'x'}}}" for k in range(100_000)]
    (tmp_path / "chain.yaml").write_text("\n".join(lines + ["outputs: {y: n99999}", ""]), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", "import sys; from vibench.compiler.cli import main; "
                             "sys.exit(main())", "chain.yaml", "--check"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok: Chain" in result.stdout


# --------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------


def test_message_fields_are_clipped_to_one_line() -> None:
    d = Diagnostic("E110", "x" * 10_000, Pos("f.yaml", 1, 1), found="a\nb", hint="h" * 10_000, notes=("n\r",) * 50)
    assert len(d.message) < MAX_FIELD + 40 and d.found == "a\\nb" and "\n" not in "".join(d.notes)
    assert len(d.notes) == 21 and d.notes[-1] == "... and 30 more notes"


def test_long_source_lines_show_a_window_with_the_caret_under_the_column() -> None:
    line = "a" * 5000 + " target " + "b" * 5000
    d = Diagnostic("E110", "here", Pos("f.yaml", 1, 5002))
    shown, caret = d.render({"f.yaml": line}).splitlines()[3:5]
    assert len(shown) < 200
    assert shown[caret.index("^")] == "t" and caret.count("^") == len("target")


def test_render_shows_the_first_diagnostics_and_a_count() -> None:
    err = SpecError([Diagnostic("E110", f"problem {k}", Pos("f.yaml", k + 1, 1)) for k in range(5000)])
    text = err.render()
    assert text.count("error[E110]") == 50 and text.endswith("(the first 50 of 5,000 are shown)")
    assert len(err.to_json()) == 5000 and err.render(limit=None).count("error[") == 5000


def test_did_you_mean_skips_long_names() -> None:
    assert suggest("relu" * 250_000, ["relu", "gelu"]) is None
    assert suggest("rleu", ["relu", "gelu", "x" * 1000]) == "did you mean `relu`?"
    assert suggest("n5001x", [f"n{k}" for k in range(50_000)]) is not None


# --------------------------------------------------------------------------------------------
# PHM base configs and output files
# --------------------------------------------------------------------------------------------


def test_project_root_is_the_nearest_folder_with_a_marker(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    deep = tmp_path / "repo" / "configs" / "demo"
    deep.mkdir(parents=True)
    assert project_root(str(deep)) == str((tmp_path / "repo").resolve())
    (tmp_path / "loose").mkdir()
    assert project_root(str(tmp_path / "loose")) == str((tmp_path / "loose").resolve())


def test_base_configs_resolve_from_the_project_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "configs" / "base").mkdir(parents=True)
    (tmp_path / "repo" / "configs" / "demo").mkdir(parents=True)
    (tmp_path / "repo" / "configs" / "base" / "m.yaml").write_text("model: {type: CNN, name: ResNet1D, "
                                                                   "input_dim: 1, num_classes: 3}\n")
    exp = tmp_path / "repo" / "configs" / "demo" / "e.yaml"
    exp.write_text("base_configs: {model: configs/base/m.yaml}\n", encoding="utf-8")
    assert str(vibench.check(str(exp)).root.outputs[0][2]) == "[B, 3]"


def _compile(args: list[str], cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        rc = cli.main(args)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return rc, out, err


def test_output_through_a_symlink_replaces_its_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "real.py").write_text("old\n", encoding="utf-8")
    (tmp_path / "real.py").chmod(0o640)
    (tmp_path / "link.py").symlink_to("real.py")
    assert _compile([str(PLAIN), "-o", "link.py"], tmp_path, capsys)[0] == cli.EXIT_OK
    assert (tmp_path / "link.py").is_symlink() and "class Plain" in (tmp_path / "real.py").read_text()
    assert stat.S_IMODE((tmp_path / "real.py").stat().st_mode) == 0o640  # an existing file keeps its mode


def test_new_outputs_follow_the_umask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = os.umask(0o027)
    try:
        assert _compile([str(PLAIN), "-o", "new.py"], tmp_path, capsys)[0] == cli.EXIT_OK
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.py").stat().st_mode) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".vibench-")]


def test_graph_alone_writes_only_the_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _compile([str(PLAIN), "--graph", "g.mmd"], tmp_path, capsys)
    assert rc == cli.EXIT_OK and "class Plain" not in out and (tmp_path / "g.mmd").read_text().startswith("flowchart")
    rc, out, _ = _compile([str(PLAIN), "--graph", "g.dot", "-o", "-"], tmp_path, capsys)
    assert rc == cli.EXIT_OK and "class Plain" in out and (tmp_path / "g.dot").exists()
    assert not (tmp_path / "-").exists()


def _padded(before: int, shape: str = "[B, 2, L]") -> str:
    return (f"vibench: 1\nname: Padded\ninputs: {{x: {{shape: {shape}}}}}\nnodes:\n"
            f"  pad: {{block: constant_pad, in: x, dim: 2, before: {before}}}\n"
            "  up: {block: conv_transpose1d, in: pad, out_channels: 2, kernel_size: 4, stride: 4}\noutputs: {y: up}\n")


def test_activation_budget_counts_the_sizes_a_spec_fixes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """E309: an output that holds more than max_activation elements at the smallest input. Sizes the inputs
    leave open count at 1, so no batch or length is refused, also when --input binds a large one."""
    limit = 2**31
    fits = limit // 8 - 1  # 2 channels x (1 + fits) steps x 4 (upsampled) <= 2**31 at B = L = 1
    assert vibench.check(text=_padded(fits)).root.nodes[1].outputs[0][1].shape[2] is not None
    with pytest.raises(SpecError) as info:
        vibench.check(text=_padded(fits + 1))
    (d,) = info.value.diagnostics
    assert d.code == "E309" and d.message == "the output of node `up` is too large to compute"
    assert d.found == f"[B, 2, 4 * L + {4 * (fits + 1)}] = at least {8 * (fits + 2):,} elements"
    assert d.pos is not None and d.pos.line == 6 and "--max-activation" in (d.hint or "")
    # The user's limit, in the API and on the command line.
    assert vibench.check(text=_padded(fits + 1), max_activation=8 * (fits + 2)).root.name == "Padded"
    spec = tmp_path / "padded.yaml"
    spec.write_text(_padded(10**12), encoding="utf-8")
    assert cli.main([str(spec), "--check"]) == cli.EXIT_SPEC
    assert "error[E309]" in capsys.readouterr().err
    assert cli.main([str(spec), "--check", "--max-activation", str(10**14)]) == cli.EXIT_OK
    with pytest.raises(ValueError, match="max_activation"):
        vibench.check(text=_padded(1), max_activation=0)
    # Open sizes are not refused, however large the data makes them (here 8.6e9 elements at run time).
    assert vibench.check(text=_padded(1)).root.name == "Padded"
    assert vibench.check(text=_padded(1), inputs={"x": (1024, 2, 2**20)}).bindings == (("B", 1024), ("L", 2**20))
    # A size the spec fixes counts as written: a declared input length of 2**28 with 8 outputs per step.
    with pytest.raises(SpecError) as info:
        vibench.check(text=_padded(0, "[B, 2, 268435457]"))
    assert info.value.codes == ["E309"]


def test_every_library_template_and_example_is_within_the_activation_budget() -> None:
    """At their defaults, with open sizes: the bound refuses nothing the library ships."""
    from vibench.compiler.resolve import LIBRARY_DIR

    refused = []
    for folder, _, files in os.walk(LIBRARY_DIR):
        for name in files:
            if name.endswith(".yaml"):
                try:
                    vibench.check(os.path.join(folder, name))
                except SpecError as err:
                    if "E309" in err.codes:
                        refused.append(name)
    assert not refused


def _nested(levels: int) -> str:
    """A model whose node uses block B0, which uses B1, ... B<levels-1>, which holds a Linear."""
    lines = ["vibench: 1", "name: Deep", "inputs: {x: {shape: [B, 3]}}", "nodes: {a: {block: B0, in: x}}",
             "outputs: {y: a}", "blocks:"]
    for k in range(levels):
        inner = f"B{k + 1}, in: x" if k < levels - 1 else "linear, in: x, out_features: 3"
        lines += [f"  B{k}:", "    inputs: {x: {shape: [B, 3]}}",
                  f"    nodes: {{a: {{block: {inner}}}, b: {{block: relu, in: a}}}}", "    outputs: {y: b}"]
    return "\n".join(lines) + "\n"


def test_composite_blocks_nest_at_most_the_limit() -> None:
    """150 blocks inside each other exhausted Python's stack in the shapes pass (an internal error with a
    traceback); the limit's depth compiles, builds and runs, one more level is E206 at the using node."""
    from vibench.compiler.limits import MAX_NESTING

    with pytest.raises(SpecError) as info:
        vibench.check(text=_nested(150))
    (diag,) = info.value.diagnostics
    assert diag.code == "E206" and diag.message == f"composite blocks nest deeper than {MAX_NESTING} levels"
    assert diag.pos is not None and diag.pos.line == 9 + 4 * (MAX_NESTING - 1)  # the node of B<limit-1> using B<limit>
    assert diag.found == f"{MAX_NESTING + 1} levels: Deep -> B0 -> B1 -> ... -> B{MAX_NESTING}"
    with pytest.raises(SpecError, match="nest deeper than"):
        vibench.check(text=_nested(MAX_NESTING + 1))
    import torch

    model = vibench.build(text=_nested(MAX_NESTING))
    assert model(torch.randn(2, 3)).shape == (2, 3)


def test_spec_files_extend_each_other_at_most_the_limit(tmp_path: Path) -> None:
    """A chain of 400 files, each extending the next, exhausted Python's stack while loading."""
    from vibench.compiler.limits import MAX_NESTING

    def chain(length: int) -> Path:
        for k in range(length):
            (tmp_path / f"t{k}.yaml").write_text(f"vibench: 1\nextends: t{k + 1}\n")
        (tmp_path / f"t{length}.yaml").write_text("vibench: 1\nname: T\ninputs: {x: {shape: [B, 3]}}\n"
                                                  "nodes: {a: {block: relu, in: x}}\noutputs: {y: a}\n")
        return tmp_path / "t0.yaml"

    with pytest.raises(SpecError) as info:
        vibench.check(chain(400))
    (diag,) = info.value.diagnostics
    assert diag.code == "E206" and diag.message == f"specs extend or use each other more than {MAX_NESTING} levels deep"
    assert diag.pos is not None and diag.pos.file.endswith(f"t{MAX_NESTING}.yaml") and diag.pos.line == 2
    assert vibench.check(chain(MAX_NESTING - 1)).root.name == "T"  # MAX_NESTING files


def test_parameter_defaults_read_each_other_at_most_the_limit() -> None:
    """3,000 parameters, each defaulting to the next, exhausted Python's stack and ended in an internal
    error (an uncaught 'depends on itself'); the chain is one E204 at the link past the limit."""
    from vibench.compiler.limits import MAX_NESTING

    def chain(length: int) -> str:
        params = [f"  p{k}: {{type: int, default: p{k + 1}}}" for k in range(length)] + [f"  p{length}: 3"]
        return "\n".join(["vibench: 1", "name: P", "params:", *params, "inputs: {x: {shape: [B, 3]}}",
                          "nodes: {a: {block: linear, in: x, out_features: p0}}", "outputs: {y: a}", ""])

    with pytest.raises(SpecError) as info:
        vibench.check(text=chain(3000))
    (diag,) = info.value.diagnostics
    assert diag.code == "E204"
    assert diag.message == (f"cannot evaluate `p{MAX_NESTING - 1}`: parameter defaults read each other more than "
                            f"{MAX_NESTING} deep (`p{MAX_NESTING}` is the next one)")
    assert diag.pos is not None and diag.pos.line == 4 + MAX_NESTING - 1
    program = vibench.check(text=chain(MAX_NESTING - 1))  # p0 .. p<limit-1> evaluating together: accepted
    assert program.root.outputs[0][2].shape[1] == 3
