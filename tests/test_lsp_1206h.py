"""vibench-lsp against the QA pass of 1206h.

* An incremental ``didChange`` is placed by LSP's lines (``\\r\\n``, ``\\n``, ``\\r``): pygls' own edit split the text
  with ``str.splitlines``, so after a U+2028, NEL or form feed it landed lines off (E110 on the wrong node, and its
  quick fix rewrote the user's text), and a character past a ``\\r\\n`` line's end took its ``\\r``.
* Work in proportion to the text, counted in bytecode instructions run in the module (never in seconds): the
  composites that use one (completion of ``block:``), the checked shapes of a unit's inputs (completion of ``in:``),
  the most specific of pydantic's errors (validate.py: minutes in ``vibench-compile --check`` for 20,000 broken
  composites, and the server's one checker stalled meanwhile).
* An error in another file is shown at the ``block:`` naming that very file, not one whose text holds its stem.
* Hover and definition take a ``block:`` value whole (``"./comp lib.yaml#Blk"``).
* A quick fix never writes a key its mapping has (``inn`` -> ``in`` beside ``in:``, E005); one reported at a key
  for its value (E112 at ``out_channels`` for ``widht``) fixes the value.
* Parameter names offered as values are typed as the compiler reads their defaults (``"8"`` a string, ``yes`` a
  bool, ``1_000`` an int).
* ``specPath`` settings replace each other; a tag or anchor on a key (``&v vibench: 1``) leaves its mapping seen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from vibench.compiler import validate  # noqa: E402
from vibench.compiler.diagnostics import SpecError  # noqa: E402
from vibench.compiler.load import load_text  # noqa: E402
from vibench.lsp import checking, completion, completion_refs, hover, navigation, spec_kind  # noqa: E402
from vibench.lsp.catalog import Catalog  # noqa: E402
from vibench.lsp.document import Document  # noqa: E402
from vibench.lsp.outline import outline  # noqa: E402
from vibench.lsp.server import _configure, create_server  # noqa: E402
from vibench.lsp.text import Lines, apply_edit  # noqa: E402


@pytest.fixture(scope="module")
def server() -> Iterator[LanguageServer]:
    s = start_vibench_server()
    yield s
    s.shutdown()


def edit(server: LanguageServer, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
    """Send one incremental change, as an editor does for a keystroke."""
    with server._changed:
        version = server._versions[uri] = server._new_version()
    rng = {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                             "contentChanges": [{"range": rng, "text": text}]})


def symbol_lines(server: LanguageServer, uri: str) -> dict[str, int]:
    return {s["name"]: s["selectionRange"]["start"]["line"] for s in server.document_symbols(uri)}


# --------------------------------------------------------------------------------------------
# 1. incremental edits by LSP's lines
# --------------------------------------------------------------------------------------------

SEPARATED = ("vibench: 1\nname: Sep\n# a{sep}# b\ninputs:\n  x: {{shape: [2, 3, 16]}}\nnodes:\n"
             "  n1: {{block: relu, in: x}}\noutputs: {{y: n1}}\n")


@pytest.mark.parametrize("sep", ["\u2028", "\x85", "\x0c"], ids=["U+2028", "NEL", "form-feed"])
def test_an_edit_after_a_line_break_python_splits_at_lands_on_lsps_line(server: LanguageServer, tmp_path: Path,
                                                                        sep: str) -> None:
    uri = file_uri(tmp_path / "sep.vibench.yaml")
    server.open(uri, SEPARATED.format(sep=sep))
    assert symbol_lines(server, uri)["n1"] == 6  # LSP's line 6: `  n1: ...` (U+2028 is no line break of LSP's)
    edit(server, uri, (6, 2), (6, 4), "n2")  # rename the node
    lines = symbol_lines(server, uri)
    assert lines.get("n2") == 6 and "n1" not in lines, lines


def test_a_fix_after_a_line_separator_replaces_what_the_editor_shows(server: LanguageServer, tmp_path: Path) -> None:
    """QA's desync: a `u` typed after `relu` on LSP's line 7 of a text with a U+2028 in a comment."""
    text = ("vibench: 1\nname: Desync\n# tuned for the rig\u2028# (see notes)\ninputs:\n  x: {shape: [2, 3, 16]}\n"
            "nodes:\n  n0: {block: gelu, in: x}\n  n1: {block: relu, in: n0}\noutputs: {y: n1}\n")
    uri = file_uri(tmp_path / "desync.vibench.yaml")
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    edit(server, uri, (7, 18), (7, 18), "u")
    (d,) = server.diagnostics(uri)
    assert d["code"] == "E110" and d["range"]["start"] == {"line": 7, "character": 14}, d
    (action,) = server.code_actions(uri, [d])
    (change,) = action["edit"]["changes"][uri]
    assert change["range"] == {"start": {"line": 7, "character": 14}, "end": {"line": 7, "character": 19}}
    assert change["newText"] == "relu"


def test_a_character_past_a_crlf_lines_end_is_that_lines_end(server: LanguageServer, tmp_path: Path) -> None:
    text = ("vibench: 1\r\nname: Crlf\r\ninputs:\r\n  x: {shape: [2, 3, 16]}\r\nnodes:\r\n"
            "  n1: {block: relu, in: x}\r\noutputs: {y: n1}\r\n")
    uri = file_uri(tmp_path / "crlf.vibench.yaml")
    server.open(uri, text)
    edit(server, uri, (1, 11), (1, 11), "X")  # `name: Crlf` has 10 characters: 11 is past its end
    assert symbol_lines(server, uri)["n1"] == 5  # pygls wrote `name: Crlf\rX\n`: a line more
    assert server.diagnostics(uri) == []  # `name: CrlfX`


def test_apply_edit_follows_lsps_rules() -> None:
    assert apply_edit("a: 1\x85b: 2\nc: 3\n", (1, 0), (1, 0), "X") == "a: 1\x85b: 2\nXc: 3\n"
    assert apply_edit("a: 1 #\x0c\nc: 3\n", (1, 0), (1, 1), "X") == "a: 1 #\x0c\nX: 3\n"
    assert apply_edit("a: 1\r\nc: 3\r\n", (0, 4), (0, 5), "X") == "a: 1X\r\nc: 3\r\n"
    assert apply_edit("a: 1\nb: 2", (7, 0), (9, 0), "X") == "a: 1\nb: 2X"  # a line beyond the text: its end
    assert apply_edit("a: 1\nb: 2\n", (1, 2), (0, 2), "X") == "a:X 2\n"  # end first: read start first
    assert apply_edit("a: \U0001F600b\n", (0, 5), (0, 5), "X", "utf-16") == "a: \U0001F600Xb\n"
    assert apply_edit("a: é\n", (0, 5), (0, 5), "X", "utf-8") == "a: éX\n"


# --------------------------------------------------------------------------------------------
# 2-4. work in proportion to the text
# --------------------------------------------------------------------------------------------


def instructions(call: Callable[[], Any], module: ModuleType) -> int:
    """The bytecode instructions ``call`` runs in ``module``'s source file: its work there, not its time."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "opcode"
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != module.__file__:
            return None
        frame.f_trace_opcodes = True
        return local

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def grows_linearly(work: Callable[[int], int], n: int = 100) -> bool:
    """Twice the text, about twice the work (the square of the text would be four times)."""
    return work(2 * n) < 2.5 * work(n)


def test_the_composites_using_one_are_found_in_one_walk() -> None:
    def chain(n: int) -> str:
        lines = ["vibench: 1", "name: Chain", "blocks:", "  B0: {nodes: {r: {block: relu}}}", "  Other: {nodes: {r: "
                 "{block: gelu}}}"]
        return "\n".join(lines + [f"  B{k}: {{nodes: {{r: {{block: B{k - 1}}}}}}}" for k in range(1, n)]) + "\n"

    doc = Document("file:///chain.vibench.yaml", None, chain(5))
    assert completion._composites_using(doc, "B0") == {"B0", "B1", "B2", "B3", "B4"}
    assert completion._composites_using(doc, "B3") == {"B3", "B4"}

    def work(n: int) -> int:
        doc = Document("file:///chain.vibench.yaml", None, chain(n))
        return instructions(lambda: completion._composites_using(doc, "B0"), completion)

    assert grows_linearly(work)


def test_the_input_shapes_of_a_unit_are_read_once_per_completion() -> None:
    def checked(n: int) -> Document:
        lines = ["vibench: 1", "name: Many", "inputs:", *[f"  i{k}: {{shape: [{k + 1}]}}" for k in range(n)],
                 "nodes:", "  n: {block: relu, in: i0}", "outputs: {y: n}"]
        text = "\n".join(lines) + "\n"
        doc = Document("file:///many.vibench.yaml", None, text)
        doc.record(checking.check(text, None, 1, []))
        assert doc.program is not None
        return doc

    catalog = Catalog([])
    doc = checked(3)
    found = {c.label: c.detail for c in completion_refs.candidates(doc, catalog, ("nodes", "n", "in"))}
    assert found == {"i0": "input [1]", "i1": "input [2]", "i2": "input [3]"}

    def work(n: int) -> int:
        doc = checked(n)
        return instructions(lambda: completion_refs.candidates(doc, catalog, ("nodes", "n", "in")), completion_refs)

    assert grows_linearly(work)


def test_the_most_specific_validation_errors_are_found_in_one_pass() -> None:
    def broken(n: int) -> str:
        return "vibench: 1\nname: Broken\nblocks:\n" + "".join(f"  B{k}: {{nodes: {{r: {{block: relu}}}}}}\n"
                                                               for k in range(n))

    with pytest.raises(SpecError) as info:
        validate.validate(load_text(broken(2)))
    # each composite misses its `inputs` and `outputs` (no error about the composite as a whole)
    assert sorted((d.code, d.message) for d in info.value.diagnostics) == sorted(
        ("E103", f"missing required key `{key}` in `blocks.B{k}`") for k in range(2) for key in ("inputs", "outputs"))

    def work(n: int) -> int:
        loaded = load_text(broken(n))

        def run() -> None:
            with pytest.raises(SpecError):
                validate.validate(loaded)

        return instructions(run, validate)

    assert grows_linearly(work)


# --------------------------------------------------------------------------------------------
# 5. an error in another file, at the reference to that file
# --------------------------------------------------------------------------------------------

BROKEN_BLOCK = """\
vibench: 1
name: Lib
blocks:
  X:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      r: {block: reluu, in: x}
    outputs: {y: r}
inputs:
  x: {shape: [2, 3, 16]}
nodes:
  a: {block: X, in: x}
outputs: {y: a}
"""


def placed(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    """(code, the text it is shown on) of each diagnostic of ``text`` saved in ``tmp_path``."""
    path = tmp_path / "main.vibench.yaml"
    path.write_text(text)
    found = checking.problems(checking.check(text, str(path), 1, []), outline(text), Lines(text))
    return [(p.diagnostic.code, text[p.start:p.end]) for p in found]


def test_an_error_in_another_file_is_shown_at_the_block_naming_that_file(tmp_path: Path) -> None:
    (tmp_path / "blocks.yaml").write_text(BROKEN_BLOCK)
    (tmp_path / "myblocks.yaml").write_text(BROKEN_BLOCK.replace("reluu", "relu").replace("  X:", "  Y:")
                                            .replace("block: X", "block: Y"))
    text = ("vibench: 1\nname: M\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n  a: {block: ./blocks.yaml#X, in: x}\n"
            "  b: {block: ./myblocks.yaml#Y, in: a}\noutputs: {y: b}\n")
    assert placed(tmp_path, text) == [("E110", "./blocks.yaml#X")]  # not `./myblocks.yaml#Y`, which holds `blocks`


def test_a_block_name_holding_the_files_stem_is_no_reference_to_it(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(BROKEN_BLOCK)
    text = ("vibench: 1\nname: M\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n  n1: {block: ./b.yaml#X, in: x}\n"
            "  n2: {block: batch_norm1d, in: n1}\noutputs: {y: n2}\n")
    assert placed(tmp_path, text) == [("E110", "./b.yaml#X")]  # `batch_norm1d` holds `b`


def test_the_server_places_another_files_error_at_its_reference(server: LanguageServer, tmp_path: Path) -> None:
    (tmp_path / "blocks.yaml").write_text(BROKEN_BLOCK)
    (tmp_path / "myblocks.yaml").write_text(BROKEN_BLOCK.replace("reluu", "relu"))
    text = ("vibench: 1\nname: M\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n  a: {block: ./blocks.yaml#X, in: x}\n"
            "  b: {block: ./myblocks.yaml#X, in: a}\noutputs: {y: b}\n")
    path = tmp_path / "main.vibench.yaml"
    path.write_text(text)
    server.open(file_uri(path), text)
    (d,) = server.diagnostics(file_uri(path))
    assert d["code"] == "E110" and d["range"]["start"] == {"line": 5, "character": 13}, d


def test_placing_another_files_error_builds_no_hint_for_a_missing_reference(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reference is only looked up: the compiler's E205 hint walks up to 500 folders per missing file."""
    from vibench.compiler.resolve import Library

    for index in range(3):
        (tmp_path / f"d{index}").mkdir()  # folders a hint would walk
    (tmp_path / "blocks.yaml").write_text(BROKEN_BLOCK)
    missing = "".join(f"  m{i}: {{block: ./missing{i}.yaml#X, in: x}}\n" for i in range(20))
    text = ("vibench: 1\nname: M\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n" + missing
            + "  a: {block: ./blocks.yaml#X, in: x}\noutputs: {y: a}\n")
    path = tmp_path / "main.vibench.yaml"
    path.write_text(text)
    checked = checking.check(text, str(path), 1, [])
    walks: list[str] = []
    original = Library._hint
    monkeypatch.setattr(Library, "_hint", lambda self, ref, *rest: walks.append(ref) or original(self, ref, *rest))
    found = checking.problems(checked, outline(text), Lines(text))
    assert walks == []
    [(code, shown)] = [(p.diagnostic.code, text[p.start:p.end]) for p in found if p.elsewhere is not None]
    assert (code, shown) == ("E110", "./blocks.yaml#X")


def test_a_reference_on_the_search_path_or_to_the_library_is_found_as_the_compiler_finds_it(tmp_path: Path) -> None:
    found = checking._spec_file
    lib = tmp_path / "lib"
    (lib / "fam").mkdir(parents=True)
    (lib / "fam" / "Net.yaml").write_text(BROKEN_BLOCK)
    (tmp_path / "here.yaml").write_text(BROKEN_BLOCK)
    folder, path = str(tmp_path), (str(lib),)
    assert found("fam/Net", folder, path) == str((lib / "fam" / "Net.yaml").resolve())
    assert found("./here.yaml", folder, path) == str((tmp_path / "here.yaml").resolve())
    assert found("./fam/Net.yaml", folder, path) is None  # a relative reference is looked for in the folder only
    assert found("cnn/ResNet1D", folder, ()) is not None  # the library
    assert found(str(tmp_path / "here.yaml"), folder, path) is None  # an absolute path is refused (E205)
    assert found("../here.yaml", str(lib), ()) is None  # outside the search path


# --------------------------------------------------------------------------------------------
# 6. a file reference is the whole value
# --------------------------------------------------------------------------------------------


def test_hover_and_definition_take_a_file_reference_whole(tmp_path: Path) -> None:
    folder = tmp_path / "sp ace%20x"
    folder.mkdir()
    (folder / "comp lib.yaml").write_text(BROKEN_BLOCK.replace("reluu", "relu").replace("  X:", "  Blk:")
                                          .replace("block: X", "block: Blk"))
    text = ('vibench: 1\nname: M\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n  a: {block: "./comp lib.yaml#Blk", '
            'in: x}\n  b: {block: ./comp%20lib.yaml#Blk, in: a}\noutputs: {y: a}\n')
    doc = Document("file:///main", str(folder / "main.vibench.yaml"), text)
    catalog = Catalog([])
    line = doc.lines.line_text(5)
    for at in ("./comp", "comp", "lib", "#Blk", "Blk"):  # each piece of the reference, on either side of the space
        offset = doc.lines.offset(5, line.index(at) + 1)
        (location,) = navigation.definition(doc, catalog, offset) or [None]
        assert location is not None and location.uri == (folder / "comp lib.yaml").as_uri(), at
        assert location.range.start.line == 3  # the key `Blk:`
        shown = hover.hover(doc, catalog, offset)
        assert shown is not None and "Blk" in shown.contents.value, at
    offset = doc.lines.offset(6, doc.lines.line_text(6).index("%20"))
    assert navigation.definition(doc, catalog, offset) is None  # `%20` is no space: no such file


# --------------------------------------------------------------------------------------------
# 7, 11. quick fixes
# --------------------------------------------------------------------------------------------


def fixes(text: str) -> list[tuple[str, str, str | None]]:
    """(code, the text the diagnostic is shown on, the text after its fix or None) of each diagnostic."""
    out = []
    for p in checking.problems(checking.check(text, None, 1, []), outline(text), Lines(text)):
        fixed = None if p.fix is None else text[:p.fix[0]] + p.fix[2] + text[p.fix[1]:]
        out.append((p.diagnostic.code, text[p.start:p.end], fixed))
    return out


SPEC = """\
vibench: 1
name: Fx
params:
  width: {type: int, default: 8}
inputs:
  x: {shape: [2, 4, 16]}
nodes:
  layer1: {block: conv1d, in: x, out_channels: width, kernel_size: 3}
  layer2: {block: relu, in: layer1}
  cat: {block: concat, in: [layer1, layer2], dim: 1}
outputs: {y: cat}
"""


def test_no_fix_writes_a_key_its_mapping_has() -> None:
    text = SPEC.replace("dim: 1}", "dim: 1, inn: x}")
    [(code, shown, fixed)] = [f for f in fixes(text) if f[0] != "W105"]
    assert (code, shown, fixed) == ("E111", "inn", None)  # `in` is written: the fix would be E005
    found = fixes(SPEC.replace("kernel_size: 3", "kernal_size: 3"))  # no such key there: fixed
    assert ("E111", "kernal_size", SPEC) in found


@pytest.mark.parametrize("written", ["widht", "'widht'", '"widht"'])
def test_a_value_reported_at_its_key_is_fixed_in_the_value(written: str) -> None:
    text = SPEC.replace("out_channels: width", f"out_channels: {written}")
    found = [f for f in fixes(text) if f[0] == "E112"]
    assert found == [("E112", "out_channels", SPEC.replace("out_channels: width", "out_channels: "
                                                           + written.replace("widht", "width")))]
    import vibench

    assert vibench.check(text=found[0][2]).root.name == "Fx"  # the fix compiles


NAMED_AS_KEY = """\
vibench: 1
name: Fx
params:
  out_channel: {type: int, default: 8}
  dims: {type: int, default: 1}
inputs:
  x: {shape: [2, 4, 16]}
nodes:
  layer1: {block: conv1d, in: x, out_channels: out_channel, kernel_size: 3}
  cat: {block: concat, in: [layer1, layer1], dim: dims}
outputs: {y: cat}
"""


@pytest.mark.parametrize(("key", "param"), [("out_channels", "out_channel"), ("dim", "dims")])
def test_a_value_named_as_its_key_is_fixed_in_the_value_not_the_key(key: str, param: str) -> None:
    broken = NAMED_AS_KEY.replace(f"{key}: {param}", f"{key}: {key}")  # the value is written as its key
    found = [f for f in fixes(broken) if f[0] == "E112"]
    assert found == [("E112", key, NAMED_AS_KEY)]  # the key stays: rewriting it was E111
    import vibench

    assert vibench.check(text=NAMED_AS_KEY).root.name == "Fx"  # the fix compiles


# --------------------------------------------------------------------------------------------
# 8. names as values, typed as the compiler reads the defaults
# --------------------------------------------------------------------------------------------


def test_names_as_values_are_typed_as_the_compiler_reads_their_defaults() -> None:
    text = """\
vibench: 1
name: Typed
params:
  w: "8"
  k: {default: "3"}
  f: yes
  n: 1_000
  m: 8
  q: {type: int}
  e: 1e3
inputs: {x: {shape: [2, 4, 16]}}
nodes:
  c: {block: conv1d, in: x, out_channels: ⟨a⟩, kernel_size: 3, bias: ⟨b⟩}
outputs: {y: c}
"""
    catalog = Catalog([])

    def offered(mark: str) -> set[str]:
        """The parameter names completed at ``⟨mark⟩`` (emptied; the other place holds a value)."""
        marked = text.replace("⟨a⟩", "8" if mark != "a" else "⟨a⟩").replace("⟨b⟩", "true" if mark != "b" else "⟨b⟩")
        at = marked.index(f"⟨{mark}⟩")
        doc = Document("file:///typed.vibench.yaml", None, marked.replace(f"⟨{mark}⟩", ""))
        names = {"w", "k", "f", "n", "m", "q", "e"}
        return {item.label for item in completion.complete(doc, catalog, at)} & names

    assert offered("a") == {"n", "m", "q"}  # `"8"` and `"3"` are strings, `yes` a bool, `1e3` a float (E112)
    assert offered("b") == {"f"}


@pytest.mark.parametrize(("written", "an_int"), [
    ("!!str 8", False), ('!!int "8"', True), ("!!float 3", False), ("{default: !!str 8}", False),
    ("&x 8", True), ("!!int &x '8'", True), ("!!str 8  # why", False), ("{default: &y !!str 8}", False),
])
def test_a_defaults_tag_types_it_as_the_compiler_reads_it(written: str, an_int: bool) -> None:
    from vibench.lsp.param_types import declared_as, kinds_taken

    text = f"vibench: 1\nparams:\n  w: {written}\n"
    assert declared_as(outline(text), ("params", "w"), kinds_taken("int")) is an_int
    value = load_text(text).data["params"]["w"]
    assert isinstance(value.get("default") if isinstance(value, dict) else value, int) is an_int  # the compiler


# --------------------------------------------------------------------------------------------
# 9. specPath
# --------------------------------------------------------------------------------------------


def test_a_spec_path_setting_replaces_the_one_before(tmp_path: Path) -> None:
    given, a, b = (str(tmp_path / name) for name in ("given", "a", "b"))
    ls = create_server([given])
    _configure(ls, {"specPath": [a]})
    assert ls.catalog.search_path == [given, a]
    _configure(ls, {"specPath": [b, b]})
    assert ls.catalog.search_path == [given, b]  # `a` is no longer searched; the command line's folder stays
    _configure(ls, {"debounceMs": 20})
    assert ls.catalog.search_path == [given, b]  # no `specPath`: kept
    _configure(ls, {"specPath": []})
    assert ls.catalog.search_path == [given]


# --------------------------------------------------------------------------------------------
# 10. a tag or anchor on a key
# --------------------------------------------------------------------------------------------

BODY = "name: K\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n  n: {block: reluu, in: x}\noutputs: {y: n}\n"


@pytest.mark.parametrize("first", ["&v vibench: 1", "!!str vibench: 1", "!!str &v vibench: 1"])
def test_a_tag_or_anchor_on_the_first_key_leaves_the_spec_seen(first: str) -> None:
    text = f"{first}\n{BODY}"
    assert spec_kind.top_keys(text) == ["vibench", "name", "inputs", "nodes", "outputs"]
    assert spec_kind.is_spec(text, "model.yaml")
    o = outline(text)
    assert o.keys(()) == ["vibench", "name", "inputs", "nodes", "outputs"]
    assert o.value(("nodes", "n", "block")) == "reluu"


@pytest.mark.parametrize("key", ["!!str n1", "&K n1", "&K !!str n1"])
def test_a_tag_or_anchor_on_a_nodes_first_key_leaves_its_mapping_seen(key: str) -> None:
    text = ("vibench: 1\nname: Y\ninputs:\n  x: {shape: [2, 3, 16]}\nnodes:\n"
            f"  {key}: {{block: relu, in: x}}\n  n9: {{block: relu, in: n1}}\noutputs: {{y: n9}}\n")
    o = outline(text)
    assert o.keys(("nodes",)) == ["n1", "n9"] and o.value(("nodes", "n1", "block")) == "relu"
    doc = Document("file:///y.vibench.yaml", None, text)
    assert [s.name for s in navigation.symbols(doc)] == ["x", "n1", "n9", "y"]


def test_a_value_after_an_anchor_stays_a_value() -> None:
    o = outline("x:\n  &a foo\ny:\n  - &b k: v\n    j: w\n")
    assert o.value(("x",)) == "foo" and o.keys(("y", 0)) == ["k", "j"]


def test_the_top_level_keys_of_a_crlf_text_include_those_without_a_value_on_their_line() -> None:
    assert spec_kind.top_keys("nodes:\r\n  a: {block: relu}\r\ninputs:\r\n  x: 1\r\n") == ["nodes", "inputs"]
