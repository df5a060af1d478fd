"""vibench's modules import each other without cycles (issue 10, item 4).

Every import counts, the ones inside functions too (a lazy import that closes a cycle still ties the
two modules together); only ``if TYPE_CHECKING:`` blocks are left out, as they never run.
``from package import module`` is an edge to that module (the package's ``__init__`` runs first, but
that is Python's order, not a dependency of the importer on the package's other contents).
"""

from __future__ import annotations

import ast
import os

import networkx as nx
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "vibench")


def _modules() -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                out[rel.removesuffix(".__init__")] = path
    return out


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def import_graph() -> nx.DiGraph:
    modules = _modules()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = nx.DiGraph()
    for module, path in modules.items():
        graph.add_node(module)
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        skipped = _type_checking_only(tree)
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                hit = known(target) if target.startswith("vibench") else None
                if hit is not None and hit != module:
                    graph.add_edge(module, hit)
    return graph


def test_the_import_graph_has_no_cycles() -> None:
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles[:10])


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    # cli imports the pipeline inside main(): still an edge
    assert graph.has_edge("vibench.compiler.cli", "vibench.compiler.pipeline")
    assert graph.has_edge("vibench.compiler.resolve", "vibench.compiler.scoped")
    assert not graph.has_edge("vibench.compiler.scoped", "vibench.compiler.resolve")  # TYPE_CHECKING only


def test_the_suite_verifies_the_ir_after_every_pass(monkeypatch) -> None:
    """tests/conftest.py turns the checks on; a broken invariant is an AssertionError, not a model."""
    import vibench
    from vibench.compiler import ir, ir_verify, pipeline

    assert pipeline.VERIFY_IR
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "verify_definition", lambda unit: calls.append(f"definition {unit.name}"))
    monkeypatch.setattr(pipeline, "verify_program", lambda program: calls.append(f"program {program.root.name}"))
    vibench.check("cnn/ResNet1D")
    assert calls == ["definition ResNet1D", "program ResNet1D"]
    program = vibench.check("cnn/ResNet1D")
    ir_verify.verify_program(program)
    broken = program.root.nodes[1]
    bad = ir.Unit.__new__(ir.Unit)
    bad.__dict__.update(program.root.__dict__)
    object.__setattr__(bad, "nodes", (broken,) + program.root.nodes)  # a node read before it exists
    with pytest.raises(AssertionError):
        ir_verify.verify(bad)
