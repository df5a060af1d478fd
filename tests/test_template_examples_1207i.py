"""Every template's example (`vibench-compile --list NAME`, docs/templates.md) compiles without a warning (1207i).

The example sets a template's first parameters at their defaults; MultiScaleCNN's set `dropout`, whose node is built
only with a classifier, and Dlinear's `input_dim`, read only by a `let` unused without `individual`: both examples
warned W104 (the value has no effect). An example now sets only parameters that have an effect there.
"""

from __future__ import annotations

import pytest

import vibench
from vibench.compiler.library_index import template_names
from vibench.compiler.reference_templates import template_doc, template_example


@pytest.mark.parametrize("name", template_names())
def test_the_example_compiles_without_warnings(name: str) -> None:
    text = template_example(template_doc(name))
    said = [d.render() for d in vibench.check(text=text).warnings if d.code in ("W101", "W104", "W105")]
    assert said == [], text


def test_an_example_sets_what_has_an_effect() -> None:
    assert "dropout" not in template_example(template_doc("cnn/MultiScaleCNN"))
    assert "input_dim" not in template_example(template_doc("mlp/Dlinear"))
