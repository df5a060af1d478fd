"""Shared test set-up: hypothesis profiles and small helpers.

Profiles: ``ci`` (the default of `make test`: derandomized, fixed examples, no deadline) and
``dev`` (many more random examples; run with ``HYPOTHESIS_PROFILE=dev make test``).

`make test` runs the suite in one pytest-xdist worker per core; each worker's torch then runs on one thread
(``OMP_NUM_THREADS=1`` unless set), as the workers already fill the cores.
"""

from __future__ import annotations

import os

# Set before anything imports torch: with its default pool (a thread per core in every worker) two workers on
# two cores oversubscribed them - the library sweep took 65 s instead of 32 s, the suite 8.3 min instead of 6.9.
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
import textwrap

import pytest
from hypothesis import HealthCheck, settings

from vibench.compiler import pipeline

settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev", max_examples=400, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Every compile in the tests (and in the CLI processes they start) checks the IR after each pass.
os.environ["VIBENCH_VERIFY_IR"] = "1"
pipeline.VERIFY_IR = True

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Models that the tests build go to a cache folder of this run (subprocesses inherit it), not the
# user's: the suite neither fills ~/.cache nor depends on what an earlier run left there.
if "VIBENCH_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["VIBENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="vibench-test-cache-")
    atexit.register(shutil.rmtree, os.environ["VIBENCH_CACHE_DIR"], True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from the current emitter")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def spec_text(text: str) -> str:
    """Dedent an inline spec."""
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture
def folder(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """The build cache's folder for one test (a new ``VIBENCH_CACHE_DIR``, memory emptied): the cache
    tests (tests/test_build_cache.py, tests/test_cache_validity.py); a test module may define its own."""
    from vibench.runtime import cache

    where = tmp_path / "cache"
    monkeypatch.setenv("VIBENCH_CACHE_DIR", str(where))
    monkeypatch.setattr(cache, "_memory", {})
    return where


@pytest.fixture
def compilations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the models compiled to source while the test runs (vibench.build's cache misses)."""
    seen: list[str] = []
    real = pipeline.compile_source

    def counting(program, **options):  # type: ignore[no-untyped-def]
        seen.append(program.root.name)
        return real(program, **options)

    monkeypatch.setattr(pipeline, "compile_source", counting)
    return seen


@pytest.fixture(scope="module")
def lsp():
    """vibench's own language server over stdio (tests/lsp/vibench_lsp.py), one per test module; a module
    that needs other settings defines its own."""
    from tests.lsp.vibench_lsp import start_vibench_server

    server = start_vibench_server()
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def yaml_server():
    """One real yaml-language-server for the whole session (tests/lsp/server.py; skips without node)."""
    from tests.lsp.server import start_server

    server = start_server()
    yield server
    server.shutdown()
