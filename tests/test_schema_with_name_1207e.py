"""A node's `with:` may name a parameter or `let` holding a mapping (`with: settings` reads `${settings}`,
docs/language.md); the compiler takes it, and the JSON Schema flagged it ("Incorrect type. Expected with: dict |
null" in yaml-language-server): a red squiggle on a valid spec. A name is taken there now; other text is not."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import vibench

COMMITTED = Path(__file__).resolve().parent.parent / "vibench" / "schemas" / "spec.schema.json"
SPECS = {
    "param": "params:\n  m: {type: 'dict[str, int]', default: {out_channels: 8, kernel_size: 3}}\n",
    "let": "let:\n  m: {out_channels: 8, kernel_size: 3}\n",
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text(encoding="utf-8")))


def _spec(holder: str, with_: str) -> str:
    return (f"vibench: 1\nname: T\n{SPECS[holder]}inputs:\n  x: {{shape: [B, 8, L]}}\n"
            f"nodes:\n  c: {{block: conv1d, in: x, with: {with_}}}\noutputs:\n  y: c\n")


@pytest.mark.parametrize("holder", sorted(SPECS))
def test_with_a_name_is_valid_for_the_schema_and_the_compiler(tmp_path: Path, validator, holder: str) -> None:
    text = _spec(holder, "m")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    assert [str(t) for _, _, t in vibench.check(str(path)).root.outputs] == ["[B, 8, L - 2]"]


@pytest.mark.parametrize("with_", ["'m n'", "'3m'", "5"])
def test_with_other_text_stays_invalid(validator, with_: str) -> None:
    assert list(validator.iter_errors(yaml.safe_load(_spec("let", with_))))
