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

Rows whose ``Label`` is empty or a missing value as pandas reads one (``NaN``, ``n/a``: unlabelled
files) are skipped, and so are rows without a ``Dataset_id``; a table with no labelled row, or
without the two columns, is refused with :class:`MetadataError` (the command line reports it as a
usage error). A row whose ``Label`` or ``Dataset_id`` is written but is no integer (``4.5``, ``x``)
is skipped too, and said: :func:`skipped_rows_warning` gives W116 for them, with the first one's line. A CSV cell
whose quote is never closed is refused, naming the line it opens on: read on, it swallowed every later row. A
cell may be as long as the table (pandas reads one longer than the ``csv`` module's 131,072 characters too), and
a table of more than :data:`MAX_SYSTEMS` systems is read only up to the first one past it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.ir import Pos
from vibench.compiler.phm_csv import LINE_BREAK, records

MAX_METADATA_BYTES = 64 * 1024 * 1024
"""The most a metadata table may weigh (PHM-Vibench's own tables are a few MiB)."""

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")

MAX_NUMBER_CHARS = 100
"""A cell longer than this is not read as a number (it is text: the row is skipped, as an unlabelled one)."""
MAX_INTEGER_DIGITS = 64
"""The most digits of an integer cell (a system id, a class index): beyond, the table is refused."""

MAX_WORKBOOK_ROWS = 1_048_576
"""Excel's own row limit: a sheet claiming more is not a workbook Excel wrote."""

MAX_SYSTEMS = 5_000
"""The most systems (`Dataset_id` values) whose class counts a table gives: a parameter that takes one count per
system refuses more (E202, :func:`vibench.compiler.phm_checks.classes_for`), and a table is read no further
than one system past it (5,000,000 ids took 38 s and 1.3 GB before that E202). Every library template with
per-system heads compiles this many: the tightest, M_02_ISFM_heterogeneous_batch's head, lists the counts in one
expression of at most 100,000 steps (``expr_functions.MAX_STEPS``), about 11 a system, and stops near 9,090
systems (E204, in an expression the user never wrote; M_01_ISFM's heads near 33,332). Below that, time: writing
the model.py of 8,000 heads took 20-30 s (`--check`, 1 s)."""


class MetadataError(ValueError):
    """A metadata table that cannot be read or lacks what ``num_classes`` needs."""


# What pandas (and so PHM-Vibench's reader) reads as a missing value: a row labelled so is an unlabelled file.
_MISSING_VALUES = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                             "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})


@dataclass(frozen=True)
class SkippedRows:
    """Rows of a metadata table skipped although written: a ``Label`` or ``Dataset_id`` that is no integer."""

    count: int
    line: int  # of the first one: its line in a CSV file, its row in a workbook (the header's is 1)
    column: str  # the column that made the first one skipped: `Label` or `Dataset_id`
    value: str  # that cell, as written


@dataclass(frozen=True)
class DatasetMetadata:
    """What vibench takes from a metadata table: the classes of each dataset (system) id, and the rows it
    skipped for a ``Label`` or ``Dataset_id`` that is no integer (None: none). A table of more than
    :data:`MAX_SYSTEMS` systems is read up to the first system past it: its ``num_classes`` then holds
    ``MAX_SYSTEMS + 1`` of them, which :func:`~vibench.compiler.phm_checks.classes_for` refuses (more than
    ``MAX_SYSTEMS``), and the rest is never read."""

    path: str
    num_classes: dict[str, int]
    skipped: SkippedRows | None = None


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
        return _workbook_classes(path)
    if path.lower().endswith(".xls"):
        raise MetadataError(f"{path}: the old binary .xls format is not read; save the table as .xlsx or .csv")
    return _csv_classes(path)


def skipped_rows_warning(metadata: DatasetMetadata) -> Diagnostic | None:
    """W116 at the first row the table's ``num_classes`` skipped for a ``Label`` or ``Dataset_id`` that is no
    integer (None when it skipped none): PHM-Vibench's factory would count, or stop at, what vibench left out."""
    skipped = getattr(metadata, "skipped", None)  # None too for a table given as another object
    if skipped is None:
        return None
    rows = "1 row" if skipped.count == 1 else f"{skipped.count:,} rows"
    kind = "line" if not metadata.path.lower().endswith(WORKBOOK_SUFFIXES) else "row"
    what = "the class index" if skipped.column == "Label" else "the system id that keys `num_classes`"
    shown = clip(metadata.path, 200)
    return Diagnostic("W116", f"{rows} of the metadata table {shown} skipped: a `Label` or `Dataset_id` that is no "
                      "integer", Pos(shown, skipped.line, 1), severity="warning",
                      found=f"{kind} {skipped.line:,}, the first: `{skipped.column}` {clip(repr(skipped.value), 60)}, "
                      f"not an integer ({what})",
                      notes=("`num_classes` counts the other rows only, as max(Label) + 1 per Dataset_id; "
                             "PHM-Vibench's factory would read these rows too",),
                      hint="fix the cells (a class index is a whole number), or empty the `Label` of a file that "
                      "has no class")


def num_classes_of(header: list[Any], rows: Any, shown: str = "the metadata table") -> dict[str, int]:
    """``{str(Dataset_id): max(Label) + 1}`` over ``rows`` (sequences in the order of ``header``)."""
    return _classes(header, enumerate(rows, 2), shown)[0]


def _classes(header: list[Any], rows: Any, shown: str) -> tuple[dict[str, int], SkippedRows | None]:
    """:func:`num_classes_of` over ``rows`` of (line, row), and the rows it skipped for a written ``Label`` or
    ``Dataset_id`` that is no integer."""
    names = [str(h).strip() if h is not None else "" for h in header]
    missing = [c for c in ("Dataset_id", "Label") if c not in names]
    if missing:
        raise MetadataError(f"{shown} has no column {' or '.join(f'`{c}`' for c in missing)} (its columns: "
                            f"{', '.join(n for n in names if n)[:300] or 'none'})")
    dataset_at, label_at = names.index("Dataset_id"), names.index("Label")
    largest: dict[str, int] = {}
    odd_id: Any = None  # a Dataset_id of a labelled row that is no integer
    odd_label: Any = None  # a Label that is written but no integer
    skipped = 0
    first: tuple[int, str, str] | None = None  # (line, column, cell) of the first row skipped so
    for line, row in rows:
        if max(dataset_at, label_at) >= len(row):
            continue
        label = _integer(_number(row[label_at], "Label", shown))
        if label is None:  # unlabelled (skipped), or a fraction or text (said)
            if not _missing(row[label_at]):
                odd_label = row[label_at] if odd_label is None else odd_label
                skipped += 1
                first = first or (line, "Label", _cell(row[label_at]))
            continue
        dataset = _integer(_number(row[dataset_at], "Dataset_id", shown))
        if dataset is None:
            if not _missing(row[dataset_at]):
                odd_id = row[dataset_at] if odd_id is None else odd_id
                skipped += 1
                first = first or (line, "Dataset_id", _cell(row[dataset_at]))
            continue
        key = str(dataset)
        largest[key] = max(largest.get(key, label), label)
        if len(largest) > MAX_SYSTEMS:  # one past the limit: every use refuses it, so read no further
            break
    if not largest and odd_id is not None:
        raise MetadataError(f"{shown}: `Dataset_id` must be an integer (the system id that keys `num_classes`), "
                            f"not {str(odd_id).strip()[:60]!r}")
    if not largest and odd_label is not None:
        raise MetadataError(f"{shown}: `Label` must be an integer (the class index that counts `num_classes`), "
                            f"not {str(odd_label).strip()[:60]!r}")
    if not largest:
        raise MetadataError(f"{shown} has no row with both a `Dataset_id` and a numeric `Label`")
    said = SkippedRows(skipped, *first) if first is not None else None
    return {key: largest[key] + 1 for key in sorted(largest, key=_id_order)}, said


def _missing(value: Any) -> bool:
    """A cell pandas reads as a missing value (empty, ``NaN``, ``n/a``...): an unlabelled file, never said."""
    return value is None or (isinstance(value, float) and value != value) or \
        (isinstance(value, str) and value.strip() in _MISSING_VALUES)


def _cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value).strip()


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.lstrip("-").isdigit() else (0, key)


def _number(value: Any, column: str, shown: str) -> Decimal | None:
    """A number cell exactly as written (1, 1.0, "1", " 1 ", "1e23": a float cell as Python writes it, text as
    it reads), else None (empty, text, NaN, infinite, longer than :data:`MAX_NUMBER_CHARS`)."""
    if isinstance(value, bool) or value is None:
        return None
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if len(text) > MAX_NUMBER_CHARS:
        return None
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    if number.adjusted() >= MAX_INTEGER_DIGITS:  # 1e999999999 is 11 characters: never expanded
        raise MetadataError(f"{shown}: the `{column}` {text[:60]!r} is too large (at most "
                            f"{MAX_INTEGER_DIGITS} digits)")
    return number


def _integer(number: Decimal | None) -> int | None:
    """``number`` as an int when it is a whole number (1, 1.0, 1e23), else None (None, 1.5).

    >>> _integer(Decimal("9007199254740993")), _integer(Decimal("1e23")), _integer(Decimal("2.5"))
    (9007199254740993, 100000000000000000000000, None)
    """
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def _csv_classes(path: str) -> DatasetMetadata:
    """The classes of a CSV table (:func:`_table`), read by ``csv.reader``, or by :mod:`vibench.compiler.phm_csv`
    where a cell is longer than the csv module allows."""
    raw = _read_bytes(path)
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
    try:
        return _table(text, delimiter, path, _csv_records(text, delimiter))
    except csv.Error as err:
        if not str(err).startswith("field larger than field limit"):
            raise MetadataError(f"{path} is not a readable CSV table: {err}") from None
    # A cell longer than the csv module's limit (a setting of the whole process, never changed here): read by
    # phm_csv as the csv module reads it otherwise. pandas, and so PHM-Vibench, reads such a cell (a file's notes).
    return _table(text, delimiter, path, records(text, delimiter))


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, int, int, list[str]]]:
    """The records of ``text`` as ``csv.reader`` reads them, as :func:`vibench.compiler.phm_csv.records` gives them:
    the line each starts on, its start and end offsets, its cells."""
    source = io.StringIO(text, newline="")
    reader = csv.reader(source, delimiter=delimiter)
    line, start = 1, 0
    for row in reader:
        end = source.tell()
        yield line, start, end, row
        line, start = reader.line_num + 1, end


def _table(text: str, delimiter: str, path: str, rows: Iterator[tuple[int, int, int, list[str]]]) -> DatasetMetadata:
    """The classes of the table whose records are ``rows``, read as they are counted, never held: 64 MiB of short
    rows held as lists took 1.5 GB. A quote left open is refused once the rows are read (:func:`_unclosed_quote`)."""
    first = next(rows, None)
    if first is not None and first[2] == len(text):  # the header took the whole file: a quote in it may be left open
        _refuse_open_quote(text, 1, 0, delimiter, path)
    header = first[3] if first is not None else []
    return DatasetMetadata(path, *_classes(header, _numbered(rows, first, text, delimiter, path), path))


def _read_bytes(path: str) -> bytes:
    """The file's bytes, at most :data:`MAX_METADATA_BYTES` of them: a file in /proc says it holds none, and a
    read may fail where the stat did not (EIO, EINVAL, no permission)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_METADATA_BYTES + 1)
    except OSError as err:
        raise MetadataError(f"cannot read the metadata table {path}: {err.strerror or err}") from None
    if len(raw) > MAX_METADATA_BYTES:
        raise MetadataError(f"the metadata table {path} is too large (more than {MAX_METADATA_BYTES:,} bytes)")
    return raw


def _numbered(rows: Iterator[tuple[int, int, int, list[str]]], header: tuple[int, int, int, list[str]] | None,
              text: str, delimiter: str, path: str) -> Iterator[tuple[int, list[str]]]:
    """The ``rows`` after the ``header`` with the line each starts at (a quoted cell may hold line breaks); a quote
    left open is refused once the rows are read (:func:`_unclosed_quote`)."""
    last = (header[0] + 1, header[2]) if header is not None else (1, 0)
    for line, start, _, row in rows:
        yield line, row
        last = (line, start)
    _refuse_open_quote(text, *last, delimiter, path)


def _refuse_open_quote(text: str, line: int, offset: int, delimiter: str, path: str) -> None:
    """MetadataError for a quote never closed in the record at ``offset`` (on ``line``) of ``text``. Such a quote runs
    to the end of the file, so it is in the last record: the reader (lenient, as pandas is with a stray quote inside
    a cell) would take every line after it as part of one cell, silently."""
    opened = _unclosed_quote(text, offset, delimiter)
    if opened is not None:
        line += len(LINE_BREAK.findall(text, offset, opened))
        raise MetadataError(f"{path}: the quote that opens a cell on line {line:,} is never closed, so every line "
                            "after it would be read as part of that cell; close it, or remove it")




def _unclosed_quote(text: str, start: int, delimiter: str) -> int | None:
    """The offset of the quote that opens a cell of the record at ``start`` of ``text`` and is never closed, else
    None. Read as ``csv.reader`` reads it without ``strict``: a quote opens a cell only as its first character; a
    doubled quote inside is one quote of the text; after the closing quote the cell runs on to the next delimiter
    or line break, where a quote is text. Each step jumps to the next quote that opens a cell (one search over any
    run of plain cells: a cell at a time was 4x slower than the reader itself on a 64 MiB line) or to the quote that
    closes it (the rest of a large file swallowed by the open quote is one find)."""
    opener = re.compile(f'[{re.escape(delimiter)}\r\n]"')  # outside a quoted cell, each delimiter ends a cell
    at = start
    while True:
        if not text.startswith('"', at):
            found = opener.search(text, at)
            if found is None:
                return None
            at = found.end() - 1
        opened, at = at, at + 1
        while True:
            close = text.find('"', at)
            if close < 0:
                return opened
            if not text.startswith('"', close + 1):
                break
            at = close + 2  # a doubled quote: one quote of the text
        at = close + 1


def _workbook_classes(path: str) -> DatasetMetadata:
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
        header = list(next(sheet.iter_rows(max_row=1, values_only=True), ()))
        # The rows after the header are read as wide as the two columns need: openpyxl fills each row out to the
        # width the sheet declares, and a sheet that declares A1:XFD1048576 made 1,048,576 rows of 16,384 cells
        # (135 s). The columns missing are said by _classes, which needs no row for it.
        names = [str(h).strip() if h is not None else "" for h in header]
        width = max((names.index(c) + 1 for c in ("Dataset_id", "Label") if c in names), default=1)
        rows = sheet.iter_rows(min_row=2, max_col=width, values_only=True)
        return DatasetMetadata(path, *_classes(header, enumerate(_at_most(rows, MAX_WORKBOOK_ROWS, path), 2), path))
    except MetadataError:
        raise
    except Exception as err:  # noqa: BLE001 - a member that fails its CRC, an I/O error, XML openpyxl cannot parse
        raise MetadataError(f"{path} is not a readable .xlsx workbook: {type(err).__name__}: {err}"[:400]) from None
    finally:
        workbook.close()


def _at_most(rows: Iterator[Any], limit: int, path: str) -> Iterator[Any]:
    for count, row in enumerate(rows):
        if count >= limit:
            raise MetadataError(f"the metadata table {path} has more than {limit:,} rows")
        yield row
