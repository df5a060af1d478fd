"""Saved failures: a spec file per regression, with what to check and the expected verdict on top.

A regression file (``tests/regressions/*.yaml``) starts with comment lines ``# fuzz-<key>: <value>``,
then holds the spec text exactly as it failed. A value that such a line would not keep as it is (a line
break, a tab, leading, trailing or repeated spaces, a character that does not print) is written as a
JSON string after ``:=`` (``# fuzz-params:= "{\\"name\\": \\"a  b\\"}"``); a spec text that itself starts
with ``# fuzz-`` follows a line ``# fuzz-end``, which ends the header (the header ends at the first
other line otherwise, as in the files written before either rule). Keys:

* ``check`` — ``static`` (:func:`~vibench.testing.check_static`) or ``runtime``
  (:func:`~vibench.testing.check_runtime`);
* ``kind`` — what was found (a finding kind); ``note`` — the message, where it failed;
* ``expect`` — the verdict a correct compiler gives: ``error`` (a located SpecError), ``ok``, or
  ``any`` (either, as long as nothing else goes wrong); runtime regressions are valid specs: ``ok``
  (every oracle agrees);
* ``origin`` (static) — the shipped spec it was mutated from: the text compiles as that file, so
  its local references resolve; ``params`` — JSON template-parameter overrides;
* ``inputs`` — concrete input sizes and dtypes, ``name=2,3,16:float32; ...`` (required for runtime
  checks; static checks bind them like ``--input``); ``backends`` — the backends to compare;
* ``status`` — ``open`` while the bug is not fixed (the replay is then an expected failure), else
  ``fixed``.

>>> from vibench.testing.regressions import header, parse
>>> reg = parse("# fuzz-check: static\\n# fuzz-expect: error\\nvibench: 1\\n", "r.yaml")
>>> reg.meta["expect"], reg.text
('error', 'vibench: 1\\n')
>>> header({"check": "static", "note": "two  spaces"}, "# fuzz-like comment\\n")
'# fuzz-check: static\\n# fuzz-note:= "two  spaces"\\n# fuzz-end\\n'
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field

from vibench.testing.oracles import KNOWN_CONDITIONS, KNOWN_UNSUPPORTED, Finding, check_static
from vibench.testing.oracles_runtime import check_runtime
from vibench.testing.specs import TensorCase

PREFIX = "# fuzz-"
END = PREFIX + "end"
"""The line that ends a header before a spec text that starts with :data:`PREFIX` itself."""
_KEY = re.compile(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*")
MAX_KIND = 100
"""The longest ``kind`` :func:`save` names a file by (a file name holds at most 255 bytes)."""


@dataclass(frozen=True)
class Regression:
    path: str
    meta: dict[str, str]
    text: str
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # header key -> its line in the file

    @property
    def is_open(self) -> bool:
        return self.meta.get("status", "fixed") == "open"

    def inputs(self) -> tuple[TensorCase, ...]:
        """The runtime inputs (``inputs`` key): names, sizes and dtypes. ValueError naming the file and
        line for an entry that is not ``name=sizes:dtype`` (a hand-edited ``x=2,a`` or a bare ``x``)."""
        out = []
        for item in filter(None, (s.strip() for s in self.meta.get("inputs", "").split(";"))):
            case, wrong = _input_entry(item)
            if case is None:
                raise ValueError(f"{self.path}:{self.lines.get('inputs', '?')}: `{PREFIX}inputs` holds "
                                 f"{item!r:.80}, not name=sizes:dtype such as x=2,3,16:float32 ({wrong})")
            out.append(case)
        return tuple(out)


def _input_entry(item: str) -> tuple[TensorCase | None, str]:
    """One ``name=sizes:dtype`` entry of the ``inputs`` key as a TensorCase, or None and what is wrong."""
    name, equals, rest = item.partition("=")
    name = name.strip()
    dims, _, dtype = rest.partition(":")
    sizes = [d.strip() for d in dims.split(",") if d.strip()]
    if not equals:
        return None, "no `=` after the input name"
    if not _KEY.fullmatch(name):
        return None, f"{name!r:.40} is no input name"
    wrong = [d for d in sizes if not (d.isascii() and d.isdigit())]
    if wrong:
        return None, f"{wrong[0]!r:.40} is no size"
    if dtype and not _KEY.fullmatch(dtype.strip()):
        return None, f"{dtype!r:.40} is no dtype name"
    dims_of = tuple(int(d) for d in sizes)
    return TensorCase(name, dims_of, dims_of, dtype.strip() or "float32"), ""


def parse(content: str, path: str) -> Regression:
    """The regression in ``content`` (the text of the file ``path``): header lines up to the first
    other line or to :data:`END`, then the spec text. ValueError for a ``:=`` value that is no JSON string."""
    meta: dict[str, str] = {}
    lines: dict[str, int] = {}
    rest = content
    number = 0
    while rest.startswith(PREFIX):
        line, _, rest = rest.partition("\n")
        number += 1
        if line.rstrip("\r") == END:
            break
        key, _, value = line[len(PREFIX):].partition(":")
        meta[key.strip()] = _value(value, path, number)
        lines[key.strip()] = number
    return Regression(path, meta, rest, lines)


def _value(written: str, path: str, number: int) -> str:
    """A header value as :func:`header` writes it: plain after ``: ``, a JSON string after ``:=``."""
    if not written.startswith("="):
        return written.strip()
    try:
        value = json.loads(written[1:])
    except ValueError:
        value = None  # reported below, with what the line holds
    if not isinstance(value, str):
        raise ValueError(f"{path}:{number}: a header value after `:=` is a JSON string such as \"a  b\", "
                         f"found {written[1:].strip()[:80]!r}")
    return value


def load(path: str) -> Regression:
    with open(path, encoding="utf-8", newline="") as fh:
        return parse(fh.read(), path)


def save(directory: str, text: str, meta: dict[str, str]) -> str:
    """Write a regression (named by its kind and a hash of the text) unless the same one exists; its path.
    :func:`load` gives back ``text`` and ``meta`` (values as str) exactly. ValueError for a ``kind``
    that is no finding kind (letters, digits, ``_`` and inner ``-``, at most :data:`MAX_KIND`
    characters): it names the file, which must stay in ``directory``."""
    kind = str(meta.get("kind", "finding"))
    if not (_KEY.fullmatch(kind) and len(kind) <= MAX_KIND):
        raise ValueError(f"a regression's kind names its file: a finding kind such as 'shape-mismatch' (letters, "
                         f"digits, _ and inner -, at most {MAX_KIND} characters), not {kind!r:.80}")
    content = header(meta, text) + text
    os.makedirs(directory, exist_ok=True)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    path = os.path.join(directory, f"{kind}-{digest}.yaml")
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
    return path


def header(meta: dict[str, str], text: str) -> str:
    """The header lines of ``meta`` before the spec ``text``. A plain value is written as it is, so the
    files written before values could be JSON strings save byte for byte the same; ValueError for a
    key that is not a word (letters, digits, ``_``, inner ``-``)."""
    lines = []
    for key, value in meta.items():
        if not (isinstance(key, str) and _KEY.fullmatch(key)):
            raise ValueError(f"a regression header key is a word such as 'note' (letters, digits, _ and inner -), "
                             f"not {key!r:.80}")
        value = str(value)
        plain = value.isprintable() and value == " ".join(value.split())
        lines.append(f"{PREFIX}{key}: {value}\n" if plain else f"{PREFIX}{key}:= {json.dumps(value)}\n")
    if text.startswith(PREFIX):
        lines.append(END + "\n")  # else the text's first lines would read as header
    return "".join(lines)


def format_inputs(inputs: tuple[TensorCase, ...]) -> str:
    return "; ".join(f"{t.name}={','.join(map(str, t.dims))}:{t.dtype}" for t in inputs)


def replay(reg: Regression, root: str) -> list[Finding]:
    """Run a regression's check; the findings (empty: it passes). Backend failures of blocks listed in
    :data:`~vibench.testing.oracles.KNOWN_UNSUPPORTED` do not count."""
    if reg.meta.get("check") == "runtime":
        backends = tuple(b for b in reg.meta.get("backends", "compile,export,script").split(",") if b)
        findings = check_runtime(reg.text, reg.inputs(), backends=backends)
        return [f for f in findings if not known_unsupported(f, reg.text)]
    origin = reg.meta.get("origin")
    path = os.path.join(root, origin) if origin else None
    params = json.loads(reg.meta["params"]) if reg.meta.get("params") else None
    inputs = {t.name: t.dims for t in reg.inputs()} or None
    verdict, findings = check_static(reg.text, path, params, inputs=inputs, timeout=5.0)
    expect = reg.meta.get("expect", "any")
    if verdict != "crash" and expect != "any" and verdict != expect:
        findings.append(Finding("wrong-verdict", f"expected {expect}, got {verdict}", "wrong-verdict"))
    return findings


def known_unsupported(finding: Finding, text: str) -> bool:
    """A backend failure of a spec with a node that :data:`~vibench.testing.oracles.KNOWN_UNSUPPORTED`
    says the backend cannot take."""
    backend, _, what = finding.kind.partition("-")
    return what == "failure" and bool(unsupported_nodes(backend, text))


def unsupported_nodes(backend: str, text: str) -> list[str]:
    """The blocks of the nodes in ``text`` that ``backend`` is known not to take (one entry per node)."""
    listed = KNOWN_UNSUPPORTED.get(backend, {})
    found = []
    for node in spec_nodes(text):
        block = node.get("block")
        if block in listed:
            condition = KNOWN_CONDITIONS.get((backend, block), {})
            if all(node.get(key, _MISSING) == value for key, value in condition.items()):
                found.append(block)
    return found


_MISSING = object()


def spec_blocks(text: str) -> set[str]:
    """Every ``block:`` name written in a spec (model and composites); empty when it does not load."""
    return {node["block"] for node in spec_nodes(text)}


def spec_nodes(text: str) -> list[dict]:
    """Every node mapping (one with a string ``block``) of a spec, composites' included."""
    import yaml

    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return []
    found: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("block"), str):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found
