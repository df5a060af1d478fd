"""A CSV metadata table with a cell longer than the csv module's limit is read without touching that limit, a
setting of the whole process: no other thread's reads see it changed, and a change another thread makes meanwhile
stands. Such a table is read by :func:`vibench.compiler.phm_csv.records`, which reads records as ``csv.reader``
does."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vibench.compiler import phm_metadata
from vibench.compiler.phm_csv import records
from vibench.compiler.phm_metadata import MetadataError, read_metadata

LONG = "x" * 200_000


def _by_csv(text: str, delimiter: str) -> list[tuple[int, int, int, list[str]]]:
    source = io.StringIO(text, newline="")
    reader = csv.reader(source, delimiter=delimiter)
    out, line, start = [], 1, 0
    for row in reader:
        out.append((line, start, source.tell(), row))
        line, start = reader.line_num + 1, source.tell()
    return out


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(["a", "1", ",", "\t", '"', '""', "\n", "\r", "\r\n", " ", "x\"y"]), max_size=16),
       st.sampled_from([",", "\t"]))
def test_records_are_csv_reader_s(parts: list[str], delimiter: str) -> None:
    text = "".join(parts)
    assert list(records(text, delimiter)) == _by_csv(text, delimiter)


def _table(tmp_path: Path, text: str) -> str:
    path = tmp_path / "meta.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_long_cell_leaves_the_process_s_limit_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(tmp_path, f"Dataset_id,Label,Notes\n1,2,{LONG}\n1,3,\"{LONG}\n\"\"q\"\"\"\n2,0,y\n")
    limit = csv.field_size_limit()
    seen: list[int] = []  # the limit another thread's csv reader sees while the table is read
    classes = phm_metadata._classes

    def reading(header: list[Any], rows: Iterator[tuple[int, list[str]]], shown: str) -> Any:
        def watched() -> Iterator[tuple[int, list[str]]]:
            for row in rows:
                seen.append(csv.field_size_limit())
                yield row
            csv.field_size_limit(10**8)  # another thread's own setting, made while the table is read
        return classes(header, watched(), shown)

    monkeypatch.setattr(phm_metadata, "_classes", reading)
    try:
        assert read_metadata(table).num_classes == {"1": 4, "2": 1}
        assert set(seen) == {limit} and csv.field_size_limit() == 10**8  # never raised; the other setting stands
    finally:
        csv.field_size_limit(limit)


def test_a_limit_set_lower_by_the_application_reads_the_same(tmp_path: Path) -> None:
    table = _table(tmp_path, "Dataset_id,Label,Notes\n1,2,a long note\n7,0,\"quoted, with a comma\"\n")
    limit = csv.field_size_limit(5)
    try:
        assert read_metadata(table).num_classes == {"1": 3, "7": 1}
        assert csv.field_size_limit() == 5
    finally:
        csv.field_size_limit(limit)


def test_a_quote_left_open_after_a_long_cell_is_refused_at_its_line(tmp_path: Path) -> None:
    table = _table(tmp_path, f"Dataset_id,Label,Notes\n1,2,{LONG}\n1,3,ok\n2,0,\"never closed\n3,1,x\n")
    with pytest.raises(MetadataError, match="on line 4"):
        read_metadata(table)
