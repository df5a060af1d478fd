"""The spec library reads as data (issue 10): `scripts/library_stats.py` and its targets, asserted
over every template of the library."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import library_stats  # noqa: E402

STATS = library_stats.measure()
TARGETS = library_stats.TARGETS

def test_expressions_are_found_with_their_braces_matched() -> None:
    assert library_stats.expressions("a ${x} b ${ {'k': '}'}['k'] } c") == ["x", "{'k': '}'}['k']"]
    assert library_stats.expressions("${[i for i in\n   range(3)]}") == ["[i for i in range(3)]"]


def test_the_script_prints_the_figures() -> None:
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "library_stats.py")], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    assert "lines holding ${...}" in out and "longest expression" in out and "isfm/M_01_ISFM.yaml" in out


def test_no_template_has_an_expression_over_100_characters() -> None:
    over = {f: n for f, n in STATS.longest_by_file.items() if n > TARGETS["longest_expression"]}
    assert not over, f"expressions longer than {TARGETS['longest_expression']} characters: {over}"


def test_no_template_tests_a_type_by_its_text() -> None:
    """`is_mapping(x)` and friends, not `str(x)[:1] == '{'`."""
    found = []
    for dirpath, _, names in os.walk(library_stats.LIBRARY):
        for name in names:
            if name.endswith(".yaml"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as fh:
                    if ")[:1]" in fh.read():
                        found.append(name)
    assert not found


def test_few_lines_hold_expressions() -> None:
    assert STATS.template_line_share <= TARGETS["template_line_share"]


def test_m01_is_short() -> None:
    assert STATS.m01_lines <= TARGETS["m01_lines"]


def test_no_expression_over_100_characters_anywhere() -> None:
    assert STATS.longest <= TARGETS["longest_expression"]
