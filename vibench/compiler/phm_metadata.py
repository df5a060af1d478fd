"""``num_classes`` from PHM-Vibench's dataset metadata table, as its model factory computes it.

PHM-Vibench describes every signal file in one metadata table (``metadata_file`` of an
experiment's ``data:`` section, an ``.xlsx`` workbook or a CSV file) with, among others, the
columns ``Dataset_id`` and ``Label``. Its factory then overwrites the config's ``num_classes``
with ``{str(Dataset_id): max(Label) + 1}`` over all rows of each dataset; this module does the
same without pandas: CSV through the standard library (comma- or tab-separated, UTF-8 or GBK,
as PHM-Vibench's reader guesses), a workbook through ``openpyxl`` (the optional extra
``vibench[metadata]``; imported only when a workbook is read). The compiler stays torch-free.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metadata.csv")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write("Id,Dataset_id,Label\\n1,1,0\\n2,1,3\\n3,2,6\\n4,2,\\n")
    >>> read_metadata(path).num_classes
    {'1': 4, '2': 7}

Rows whose ``Label`` is empty or not a number (unlabelled files) are skipped, and so are rows
without a ``Dataset_id``; a table with no labelled row, or without the two columns, is refused
with :class:`MetadataError` (the command line reports it as a usage error).
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_METADATA_BYTES = 64 * 1024 * 1024
"""The most a metadata table may weigh (PHM-Vibench's own tables are a few MiB)."""

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")

MAX_WORKBOOK_ROWS = 1_048_576
"""Excel's own row limit: a sheet claiming more is not a workbook Excel wrote."""


class MetadataError(ValueError):
    """A metadata table that cannot be read or lacks what ``num_classes`` needs."""


@dataclass(frozen=True)
class DatasetMetadata:
    """What vibench takes from a metadata table: the classes of each dataset (system) id."""

    path: str
    num_classes: dict[str, int]


def read_metadata(path: str) -> DatasetMetadata:
    """``num_classes`` per ``Dataset_id`` of the metadata table at ``path`` (CSV or ``.xlsx``)."""
    try:
        size = os.stat(path).st_size
    except OSError as err:
        raise MetadataError(f"cannot read the metadata table {path}: {err.strerror or err}") from None
    if not os.path.isfile(path):
        raise MetadataError(f"the metadata table {path} is not a regular file")
    if size > MAX_METADATA_BYTES:
        raise MetadataError(f"the metadata table {path} is too large ({size:,} bytes; at most {MAX_METADATA_BYTES:,})")
    if path.lower().endswith(WORKBOOK_SUFFIXES):
        return DatasetMetadata(path, _workbook_classes(path))
    if path.lower().endswith(".xls"):
        raise MetadataError(f"{path}: the old binary .xls format is not read; save the table as .xlsx or .csv")
    return DatasetMetadata(path, _csv_classes(path))


def num_classes_of(header: list[Any], rows: Any, shown: str = "the metadata table") -> dict[str, int]:
    """``{str(Dataset_id): max(Label) + 1}`` over ``rows`` (sequences in the order of ``header``)."""
    names = [str(h).strip() if h is not None else "" for h in header]
    missing = [c for c in ("Dataset_id", "Label") if c not in names]
    if missing:
        raise MetadataError(f"{shown} has no column {' or '.join(f'`{c}`' for c in missing)} (its columns: "
                            f"{', '.join(n for n in names if n)[:300] or 'none'})")
    dataset_at, label_at = names.index("Dataset_id"), names.index("Label")
    largest: dict[str, int] = {}
    odd_id: Any = None  # a Dataset_id of a labelled row that is no integer
    for row in rows:
        if max(dataset_at, label_at) >= len(row):
            continue
        dataset, label = _integer(row[dataset_at]), _integer(row[label_at])
        if dataset is None or label is None:
            if label is not None and odd_id is None and str(row[dataset_at] or "").strip():
                odd_id = row[dataset_at]
            continue
        key = str(dataset)
        largest[key] = max(largest.get(key, label), label)
    if not largest and odd_id is not None:
        raise MetadataError(f"{shown}: `Dataset_id` must be an integer (the system id that keys `num_classes`), "
                            f"not {str(odd_id).strip()[:60]!r}")
    if not largest:
        raise MetadataError(f"{shown} has no row with both a `Dataset_id` and a numeric `Label`")
    return {key: largest[key] + 1 for key in sorted(largest, key=_id_order)}


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.lstrip("-").isdigit() else (0, key)


def _integer(value: Any) -> int | None:
    """An integer cell (1, 1.0, "1", " 1 "), else None (empty, text, NaN, 1.5)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _csv_classes(path: str) -> dict[str, int]:
    """The rows are read as they are counted, never held: 64 MiB of short rows held as lists took 1.5 GB."""
    with open(path, "rb") as fh:
        raw = fh.read()
    for encoding in ("utf-8-sig", "gbk"):  # PHM-Vibench's reader tries UTF-8, then GBK
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = raw.decode("latin-1")
    sample = text[:4096]
    delimiter = "," if sample.count(",") > sample.count("\t") else "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, [])
        return num_classes_of(header, reader, path)
    except csv.Error as err:
        raise MetadataError(f"{path} is not a readable CSV table: {err}") from None


def _workbook_classes(path: str) -> dict[str, int]:
    """The first sheet of a workbook (what ``pandas.read_excel`` reads by default), read row by row."""
    try:
        import openpyxl
    except ImportError:
        raise MetadataError(f"reading {path} needs openpyxl: pip install 'vibench[metadata]' (or save the "
                            "table as CSV)") from None
    # A workbook is a zip: 64 MiB of it may unpack to gigabytes of sheet XML (a "zip bomb": 0.7 MiB that
    # unpacked to 222 MB took a minute and 500 MB of memory). zipfile never unpacks a member beyond its
    # recorded size, so the recorded sizes bound what openpyxl reads.
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise MetadataError(f"{path} is not a readable .xlsx workbook: {err}"[:400]) from None
    if unpacked > MAX_METADATA_BYTES:
        raise MetadataError(f"the metadata table {path} unpacks to {unpacked:,} bytes (at most "
                            f"{MAX_METADATA_BYTES:,}); save the columns Dataset_id and Label as CSV")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise MetadataError(f"{path} is not a readable .xlsx workbook: {type(err).__name__}: {err}"[:400]) from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = list(next(rows, ()))
        return num_classes_of(header, _at_most(rows, MAX_WORKBOOK_ROWS, path), path)
    finally:
        workbook.close()


def _at_most(rows: Iterator[Any], limit: int, path: str) -> Iterator[Any]:
    for count, row in enumerate(rows):
        if count >= limit:
            raise MetadataError(f"the metadata table {path} has more than {limit:,} rows")
        yield row
