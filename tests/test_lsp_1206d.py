"""vibench-lsp and the JSON Schema against the QA pass of 1206d.

* Deeply nested flow collections (``doc: [[[[...]]]]``): the tolerant outline stops where the text nests
  deeper than the compiler's limit (:data:`~vibench.compiler.load_compose.MAX_DEPTH`, E002), so its cost
  follows the text, not the square of its depth; and `exit` ends the server while a check still runs.
* The schema flags non-string keys under ``metadata:`` (and in every map whose keys are not fixed) as the
  compiler does (E102), and accepts the YAML 1.1 numbers the compiler reads (``1_000``, ``0b101``,
  ``0.1_0``), which yaml-language-server, reading YAML 1.2, passes on as strings; checked with the real
  server against the schema this checkout generates.
* Go to definition and hover on ``file.yaml#Block`` when that file has an error of its own.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.lsp.client import LanguageServer, file_uri
from vibench.compiler.load_compose import MAX_DEPTH
from vibench.lsp.outline import cursor_at, outline
from vibench.schemas.jsonschema import build_schema, schema_text


def deep(n: int) -> str:
    return "vibench: 1\ndoc: " + "[" * n + "]" * n + "\nname: M\n"


# --------------------------------------------------------------------------------------------
# 1. deep nesting
# --------------------------------------------------------------------------------------------


def test_the_outline_stops_at_the_compilers_depth_limit() -> None:
    o = outline(deep(500))
    assert max(len(path) for path in o.entries) <= MAX_DEPTH  # no entry 500 levels deep
    assert sum(len(path) for path in o.entries) < MAX_DEPTH ** 2  # not one path per level of 500
    assert o.value(("vibench",)) == "1"  # what comes before the limit is read
    assert o.entry(("name",)) is None  # after it, nothing: the compiler refuses the text (E002)
    # Up to the limit everything is outlined: the top-level mapping and 63 lists, which the compiler
    # reads; one list more is its E002, and the outline's end.
    n = MAX_DEPTH - 1
    within = outline("vibench: 1\ndoc: " + "[" * n + "x" + "]" * n + "\nname: M\n")
    assert within.value(("doc",) + (0,) * n) == "x"
    assert within.value(("name",)) == "M"
    beyond = outline("vibench: 1\ndoc: " + "[" * (n + 1) + "x" + "]" * (n + 1) + "\nname: M\n")
    assert beyond.value(("doc",) + (0,) * (n + 1)) is None and beyond.entry(("name",)) is None


def test_deep_nesting_costs_memory_in_proportion_to_the_text() -> None:
    """At 5,000 levels the quadratic outline (a path of every level above, per level) needed about
    100 MB; a linear one needs a small multiple of the text. 100,000 levels: the QA's case."""
    for n in (5_000, 100_000):
        text = deep(n)
        tracemalloc.start()
        try:
            o = outline(text)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 200 * len(text) + 4_000_000, (n, peak)
        assert len(o.entries) <= MAX_DEPTH + 2


def test_the_cursor_beyond_the_limit_is_on_nothing_and_before_it_still_works() -> None:
    text = "vibench: 1\nnodes:\n  a: {block: relu, in: x}\ndoc: " + "[" * 200 + "x" + "]" * 200 + "\n"
    at_x = text.index("x]")
    assert cursor_at(text, at_x + 1, whole_word=True).role == "none"
    relu = text.index("relu") + 2
    cursor = cursor_at(text, relu, whole_word=True, base=outline(text))
    assert (cursor.path, cursor.role, cursor.word) == (("nodes", "a", "block"), "value", "relu")


def test_the_worker_thread_does_not_hold_the_process() -> None:
    from vibench.lsp.worker import Worker

    worker = Worker("test-worker")
    try:
        assert worker.submit(sum, [1, 2]).result() == 3
        thread = worker._thread
        assert thread is not None and thread.daemon
    finally:
        worker.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(sum, [1])


SLOW_PLUGIN = '''
import os
import time

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class SlowParams(BlockParams):
    pass


class Slow(Block):
    """A plug-in block whose `infer` takes an hour: a check that is still running."""

    name = "p_slow"
    Params = SlowParams

    def infer(self, p, ins, ctx):
        open(os.environ["SLOW_MARKER"], "w").close()
        time.sleep(3600)
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])


register(Slow)
'''


def test_exit_ends_the_server_while_a_check_runs(tmp_path: Path) -> None:
    pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls)")
    from tests.lsp.server import ROOT
    from tests.lsp.vibench_lsp import start_vibench_server
    from tests.test_plugins_loading import install, spec_text

    site = tmp_path / "site"
    install(site, "p_slow", {"p_slow/__init__.py": SLOW_PLUGIN}, ["slow = p_slow"])
    marker = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "VIBENCH_CACHE": "0",
           "SLOW_MARKER": str(marker)}
    server = start_vibench_server(env=env)
    try:
        server.open(file_uri(tmp_path / "slow.yaml"), spec_text("p_slow"))
        server.wait_until(marker.exists, "the check to reach the plug-in")
        server.request("shutdown", None)
        server.notify("exit", None)
        assert server.proc.wait(timeout=60) == 0  # before: waited for the hour-long check
    finally:
        server.proc.kill()
        server.shutdown()


# --------------------------------------------------------------------------------------------
# 2, 3. the schema: keys and numbers
# --------------------------------------------------------------------------------------------

HEAD = "vibench: 1\nname: M\ninputs:\n  x: {shape: [B, 4, 64]}\n"
MODEL = HEAD + "nodes:\n  n: {block: relu, in: x}\noutputs:\n  y: n\n"
COMPOSITE = HEAD + ("blocks:\n  Foo:\n    inputs: {a: {shape: [B, 4, 64]}}\n    nodes: {r: {block: relu, in: a}}\n"
                    "    outputs: {o: r}\n")


def node(body: str, flatten: bool = True) -> str:
    """A model whose output node ``n`` is ``{body}`` (after a flatten node ``f`` when ``flatten``)."""
    first = "  f: {block: flatten, in: x}\n" if flatten else ""
    return HEAD + f"nodes:\n{first}  n: {{{body}}}\noutputs:\n  y: n\n"


KEY_CASES = {
    "metadata_int": MODEL + "metadata:\n  1: a\n",
    "metadata_bool": MODEL + "metadata:\n  true: a\n",
    "metadata_null": MODEL + "metadata:\n  ~: a\n",
    "metadata_float": MODEL + "metadata:\n  1.5: a\n",
    "metadata_nested_int": MODEL + "metadata:\n  a:\n    2: b\n",  # any keys inside a value: both accept
    "metadata_strings": MODEL + "metadata:\n  a: 1\n  '1': 2\n",
    "composite_param_int": COMPOSITE + "nodes:\n  n: {block: Foo, in: x, 1: 2}\noutputs:\n  y: n\n",
    "composite_with_int": COMPOSITE + "nodes:\n  n: {block: Foo, in: x, with: {1: 2}}\noutputs:\n  y: n\n",
    "for_each_int": HEAD + "nodes:\n  n: {block: relu, in: x, for_each: {1: [1, 2]}}\noutputs:\n  y: n\n",
}
NUMBER_CASES = {
    # YAML 1.1 numbers that YAML 1.2 reads as strings: the compiler accepts them
    **{f"int_{k}": node(f"block: linear, in: f, out_features: {v}")
       for k, v in enumerate(["1_000", "0b101", "+0b1_1", "+0x1F", "0x1_f", "+5", "0x1F", "12"])},
    **{f"float_{k}": node(f"block: dropout, in: x, p: {v}", flatten=False)
       for k, v in enumerate(["0.1_0", ".2_5", "0_0.5", "5_0.0e-2", "0.5", "1e-1", "1", "1_0e-1"])},
    # neither reads a number
    **{f"not_{k}": node(f"block: linear, in: f, out_features: {v}")
       for k, v in enumerate(["1_0e3", "0b2", "0.5", "'7'", "1_0.5", "1__0", "10_"])},
}


def compiler_lines(text: str, path: Path) -> set[int]:
    from vibench.lsp.checking import check

    checked = check(text, str(path), None, [])
    return {d.pos.line for d in checked.diagnostics if d.severity == "error" and d.pos is not None}


@pytest.fixture(scope="module")
def schema_server(tmp_path_factory: pytest.TempPathFactory):
    """yaml-language-server reading the schema this checkout generates (the committed file may be
    older: `make schema` writes it)."""
    from tests.lsp.server import ROOT, ensure_installed

    folder = tmp_path_factory.mktemp("schema_cases")
    (folder / "spec.schema.json").write_text(schema_text(), encoding="utf-8")
    node_bin, script = ensure_installed()
    settings = {"yaml": {"validate": True, "hover": True, "completion": True, "format": {"enable": False},
                         "schemaStore": {"enable": False}}}
    server = LanguageServer([node_bin, str(script), "--stdio"], settings=settings, cwd=str(ROOT), timeout=120.0)
    server.initialize(file_uri(folder))
    yield server, folder
    server.shutdown()


@pytest.mark.parametrize("name", [*KEY_CASES, *NUMBER_CASES])
def test_the_server_and_the_compiler_agree(schema_server: tuple[LanguageServer, Path], name: str) -> None:
    server, folder = schema_server
    text = "# yaml-language-server: $schema=spec.schema.json\n" + {**KEY_CASES, **NUMBER_CASES}[name]
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    server.open(file_uri(path), text)
    flagged = {d["range"]["start"]["line"] + 1 for d in server.diagnostics(file_uri(path))}
    refused = compiler_lines(text, path)
    assert flagged == refused, (text, server.diagnostics(file_uri(path)))


def test_non_string_metadata_keys_fail_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(build_schema())
    for key in ("1", "true", "~", "1.5"):
        data = yaml.safe_load(MODEL + f"metadata:\n  {key}: a\n")
        errors = list(validator.iter_errors(data))
        assert errors, key
    assert not list(validator.iter_errors(yaml.safe_load(MODEL + "metadata:\n  a: {2: b}\n")))


def test_the_number_patterns_match_what_the_compiler_reads_as_numbers() -> None:
    """Every string the patterns accept is a number to the compiler (an int for INTEGER_1_1)."""
    import re

    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import load_text
    from vibench.schemas.jsonschema import INTEGER_1_1, NUMBER_1_1

    forms = ["1_000", "0b101", "0o7", "-0x1F", "0x_1", "0x_", "1_0", "0.1_0", "1__0", "0b1_0", "+0b1", "-1_000",
             "1_0.5", ".5_0", "1_0e3", "1_0.5e+3", "1_0.5e3", "0b", "0b_", "_1", "1_", "-0b_1", "+0x_a", "0x1_f",
             "0_1.5", "1_.", "._5", "._", "-._5", "+1_0.0", "1_0:30", "0b2", "0xg_1", "1.5_e-3", "+.5_", "a_1"]
    for form in forms:
        try:
            value = load_text(f"v: {form}\n").data["v"]
        except SpecError:
            value = None
        if re.search(INTEGER_1_1, form):
            assert type(value) is int, form
        if re.search(NUMBER_1_1, form):
            assert type(value) in (int, float), form


# --------------------------------------------------------------------------------------------
# 4. a referenced file with an error of its own
# --------------------------------------------------------------------------------------------

LIB = """vibench: 1
name: Lib
blocks:
  Inner:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      c: {block: conv1d, in: x, out_channels: 8, kernel_size: 3}
    outputs: {y: c}
inputs:
  x: {shape: [B, 1, 64]}
nodes:
  inner: {block: Inner, in: x}
outputs:
  y: inner
"""
MAIN = """vibench: 1
name: Main
inputs:
  x: {shape: [B, 1, 64]}
nodes:
  a: {block: ./lib.yaml#Inner, in: x}
outputs:
  y: a
"""


@pytest.mark.parametrize("error", ["bogus: 1\n", "bad: [\n"], ids=["unknown key", "yaml syntax"])
def test_definition_and_hover_on_a_block_of_a_file_with_errors(lsp: LanguageServer, tmp_path: Path,
                                                               error: str) -> None:
    (tmp_path / "lib.yaml").write_text(LIB + error, encoding="utf-8")
    main = tmp_path / "main.yaml"
    main.write_text(MAIN, encoding="utf-8")
    uri = file_uri(main)
    lsp.open(uri, MAIN)
    lsp.diagnostics(uri)
    line = MAIN.split("\n")[5]
    (target,) = lsp.definition(uri, 5, line.index("Inner") + 2)
    assert target["uri"] == file_uri(tmp_path / "lib.yaml")
    assert target["range"]["start"] == {"line": 3, "character": 2}  # `Inner:` under `blocks:`, not 1:1
    text = lsp.hover(uri, 5, line.index("Inner") + 2)
    assert "`./lib.yaml` has errors" in text, text
    assert ("E101" if "bogus" in error else "E001") in text
    lsp.close(uri)


def test_hover_on_extends_of_a_template_with_errors(lsp: LanguageServer, tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(LIB + "bogus: 1\n", encoding="utf-8")
    text = "vibench: 1\nextends: ./lib.yaml\n"
    path = tmp_path / "child.yaml"
    path.write_text(text, encoding="utf-8")
    uri = file_uri(path)
    lsp.open(uri, text)
    lsp.diagnostics(uri)
    shown = lsp.hover(uri, 1, len("extends: ./li"))
    assert "`./lib.yaml` has errors" in shown and "E101" in shown, shown
    (target,) = lsp.definition(uri, 1, len("extends: ./li"))
    assert target["range"]["start"] == {"line": 0, "character": 0}
    lsp.close(uri)


def test_definition_when_the_file_loads_is_unchanged(lsp: LanguageServer, tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(LIB, encoding="utf-8")
    main = tmp_path / "main.yaml"
    main.write_text(MAIN, encoding="utf-8")
    uri = file_uri(main)
    lsp.open(uri, MAIN)
    assert lsp.diagnostics(uri) == []
    line = MAIN.split("\n")[5]
    (target,) = lsp.definition(uri, 5, line.index("Inner") + 2)
    assert target["range"]["start"] == {"line": 3, "character": 2}
    assert lsp.hover(uri, 5, line.index("Inner") + 2).startswith("**./lib.yaml#Inner**")
    lsp.close(uri)


def test_free_form_maps_offer_no_placeholder_key(schema_server: tuple[LanguageServer, Path]) -> None:
    """The string-keys rule on `metadata:` does not make the server offer a key named `property`."""
    server, folder = schema_server
    text = "# yaml-language-server: $schema=spec.schema.json\n" + MODEL + "metadata:\n  a: 1\n  \n"
    path = folder / "complete_metadata.yaml"
    path.write_text(text, encoding="utf-8")
    server.open(file_uri(path), text)
    items = server.completion(file_uri(path), text.count("\n") - 1, 2)
    assert "property" not in {item["label"] for item in items}
