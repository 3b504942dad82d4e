"""Files an analyst opens: the rows of a JSON answer as CSV or as an XLSX workbook with typed
cells, streamed with bounded memory.

A file is described by its `Column`s: the JSON field it shows (dotted for a nested one), an
English and a Chinese header, and the kind of its cells. The same rows make both files:

- CSV: RFC 4180, UTF-8, CRLF; each cell is the JSON value's text (money `"2850000.00"`,
  dates ISO, `true`/`false`, lists joined by `|`); `?bom=true` puts a UTF-8 byte-order mark
  first, so Excel on a Chinese Windows reads UTF-8 instead of GBK. A text cell that starts
  with `=`, `+`, `-` or `@` gets a leading `'`, so a spreadsheet never runs it as a formula.
- XLSX (XlsxWriter, constant-memory mode: each row goes to disk as it is written): integers
  as integers, money as numbers in format `0.00` whose stored text is the `Decimal`'s own
  (exact, never a float's rounding), other decimals in `0.0000`, dates as dates, timestamps
  as Asia/Shanghai date-times, booleans as booleans, text always as text (never a formula).
  A workbook is a zip archive completed only at its end, so it is built in a temporary file
  and then streamed; memory stays flat whatever the row count.

`?headers=zh` gives Chinese column headers in either file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import xlsxwriter
from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typing_extensions import TypeAliasType

from shared.clock import SHANGHAI
from shared.negotiation import CSV, XLSX

Kind = Literal[
    "text", "integer", "number", "money", "decimal", "date", "datetime", "boolean", "list"
]

FILES = (CSV, XLSX)
"""The file media types every tabular resource offers besides JSON."""

_CHUNK = 64 * 1024
_FORMULA_START = ("=", "+", "-", "@")
_NUMBER_FORMATS: dict[str, str] = {
    "money": "0.00",
    "decimal": "0.0000",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
_WIDTHS: dict[str, int] = {"text": 20, "list": 24, "date": 12, "datetime": 20, "money": 16}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a file: the JSON field `name` (dotted into nested objects, e.g.
    `guarantee_fee.payable_fee`), its Chinese header and the kind of its cells."""

    name: str
    zh: str
    kind: Kind = "text"

    def of(self, row: Mapping[str, Any]) -> Any:
        """This column's value in a JSON row (None where a nested object is null)."""
        value: Any = row
        for part in self.name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


HeaderLanguage = TypeAliasType("HeaderLanguage", Literal["en", "zh"])
"""The language of a file's column headers: the JSON field names, or Chinese."""


@dataclass(frozen=True, slots=True)
class FileOptions:
    """How a file is written: header language and, for CSV, a byte-order mark."""

    headers: HeaderLanguage = "en"
    bom: bool = False


async def _file_options(
    headers: Annotated[
        HeaderLanguage,
        Query(description="CSV/XLSX column headers: `en` (the JSON field names) or `zh` (中文)"),
    ] = "en",
    bom: Annotated[
        bool,
        Query(description="CSV: start with a UTF-8 byte-order mark (for Excel on Chinese Windows)"),
    ] = False,
) -> FileOptions:
    return FileOptions(headers, bom)


SpreadsheetOptions = Annotated[FileOptions, Depends(_file_options)]
"""The `headers` and `bom` query parameters of a route that offers files."""


Row = Mapping[str, Any] | Sequence[Any]
"""A JSON row (a mapping, read by column name) or the cells in column order."""


def _cells(columns: Sequence[Column], row: Row) -> Sequence[Any]:
    if isinstance(row, Mapping):
        return [c.of(row) for c in columns]
    return row


def _header(columns: Sequence[Column], options: FileOptions) -> list[str]:
    return [c.zh if options.headers == "zh" else c.name for c in columns]


# ---------------------------------------------------------------- CSV


def csv_text(value: Any, kind: Kind) -> str:
    """A cell's CSV text: the JSON value's own spelling (None is an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        value = "|".join(str(v) for v in value)
    text = str(value)
    if kind in ("text", "list") and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_chunks(
    columns: Sequence[Column], rows: Iterable[Row], options: FileOptions, *, batch: int = 500
) -> Iterator[bytes]:
    """The CSV file, a batch of rows at a time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if options.bom:
        out.write("\ufeff")
    writer.writerow(_header(columns, options))
    kinds = [c.kind for c in columns]
    pending = 0
    for row in rows:
        writer.writerow([csv_text(v, k) for v, k in zip(_cells(columns, row), kinds, strict=True)])
        pending += 1
        if pending == batch:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
            pending = 0
    yield out.getvalue().encode()


# ---------------------------------------------------------------- XLSX


def xlsx_value(value: Any, kind: Kind) -> Any:
    """A cell's typed value from its JSON value (or its CSV text): int, float, exact
    `Decimal`, date, naive Asia/Shanghai datetime, bool or str; None for an empty cell."""
    if value is None or value == "" or value == []:
        return None
    match kind:
        case "integer":
            return int(value)
        case "number":
            return float(value)
        case "money" | "decimal":
            return Decimal(str(value))
        case "date":
            return value if isinstance(value, date) else date.fromisoformat(value)
        case "datetime":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return moment.astimezone(SHANGHAI).replace(tzinfo=None)
        case "boolean":
            return value if isinstance(value, bool) else value == "true"
        case "list":
            return "|".join(str(v) for v in value) if isinstance(value, list | tuple) else value
        case _:
            return str(value)


Sheet = tuple[str, Sequence[Column], Iterable[Row]]
"""One sheet of a workbook: its name (at most 31 characters), columns and rows."""


def write_xlsx(
    path: str,
    columns: Sequence[Column],
    rows: Iterable[Row],
    options: FileOptions,
    *,
    sheet: str,
    tmpdir: str | None = None,
) -> int:
    """Write the workbook to `path` (one sheet, a bold frozen header row); the row count."""
    return write_xlsx_sheets(path, [(sheet, columns, rows)], options, tmpdir=tmpdir)[0]


def write_xlsx_sheets(
    path: str, sheets: Sequence[Sheet], options: FileOptions, *, tmpdir: str | None = None
) -> list[int]:
    """Write a workbook of several sheets to `path`, each as `write_xlsx` writes its one;
    the row count of each."""
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tmpdir})
    try:
        bold = book.add_format({"bold": True})
        return [_write_sheet(book, bold, sheet, options) for sheet in sheets]
    finally:
        book.close()


def _write_sheet(book: Any, bold: Any, sheet: Sheet, options: FileOptions) -> int:
    name, columns, rows = sheet
    ws = book.add_worksheet(name[:31])
    formats = [
        book.add_format({"num_format": _NUMBER_FORMATS[c.kind]})
        if c.kind in _NUMBER_FORMATS
        else None
        for c in columns
    ]
    for i, column in enumerate(columns):
        ws.set_column(i, i, _WIDTHS.get(column.kind, 12))
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, _header(columns, options), bold)
    kinds = [c.kind for c in columns]
    count = 0
    for count, row in enumerate(rows, start=1):
        cells = zip(_cells(columns, row), kinds, formats, strict=True)
        for col, (raw, kind, fmt) in enumerate(cells):
            _write_cell(ws, count, col, xlsx_value(raw, kind), fmt)
    return count


def _write_cell(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, int | float | Decimal):
        # A Decimal is stored by its own text ("2850000.00"), so the cell holds exactly it.
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, date):
        ws.write_datetime(row, col, value, fmt)
    else:
        ws.write_string(row, col, value)


def xlsx_chunks(
    columns: Sequence[Column], rows: Iterable[Row], options: FileOptions, *, sheet: str
) -> Iterator[bytes]:
    """The workbook's bytes: written to a temporary file as `rows` come, then read back."""
    return xlsx_sheets_chunks([(sheet, columns, rows)], options)


def xlsx_sheets_chunks(sheets: Sequence[Sheet], options: FileOptions) -> Iterator[bytes]:
    """The bytes of a workbook of several sheets, as `xlsx_chunks` makes one."""
    with tempfile.TemporaryDirectory(prefix="innocredit-xlsx-") as tmp:
        path = os.path.join(tmp, "file.xlsx")
        write_xlsx_sheets(path, sheets, options, tmpdir=tmp)
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk


# ---------------------------------------------------------------- whole lists


FILE_BATCH = 2000
"""Rows a file of a whole list reads per query."""

A = TypeVar("A")
R = TypeVar("R")


def every_row(
    factory: sessionmaker[Session],
    fetch: Callable[[Session, A | None, int], Sequence[R]],
    position: Callable[[R], A],
    start: A | None,
    *,
    batch: int | None = None,
) -> Iterator[R]:
    """Every row of a keyset-ordered list after `start` (None: from the beginning), for a
    file of the whole list. `fetch(session, after, n)` answers up to `n + 1` rows after
    `after`, as the list's pages do. One read-only REPEATABLE READ transaction of its own
    (a file outlives the request's session) makes the file one consistent snapshot; only
    one batch (`FILE_BATCH` rows unless given) is held at a time."""
    batch = batch or FILE_BATCH
    session = factory()
    try:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        session.execute(text("SET TRANSACTION READ ONLY"))
        after = start
        while True:
            rows = fetch(session, after, batch)
            yield from rows[:batch]
            if len(rows) <= batch:
                return
            after = position(rows[batch - 1])
            session.expunge_all()  # the batch is written: let its objects go
    finally:
        session.close()


# ---------------------------------------------------------------- responses


def file_chunks(
    media: str, columns: Sequence[Column], rows: Iterable[Row], options: FileOptions, *, name: str
) -> Iterator[bytes]:
    """The file of `rows` as `media` (CSV or XLSX), a chunk at a time."""
    if media == XLSX:
        return xlsx_chunks(columns, rows, options, sheet=name)
    return csv_chunks(columns, rows, options)


def file_headers(media: str, name: str) -> dict[str, str]:
    """Content type, download name (`name.csv` / `name.xlsx`, ASCII) and `Vary: Accept`."""
    extension = "xlsx" if media == XLSX else "csv"
    return {
        "Content-Type": XLSX if media == XLSX else f"{CSV}; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}.{extension}"',
        "Vary": "Accept",
    }


def file_response(
    media: str,
    columns: Sequence[Column],
    rows: Iterable[Row],
    options: FileOptions,
    *,
    name: str,
) -> StreamingResponse:
    """Stream the file of `rows` as `media` (CSV or XLSX), downloaded as `name`."""
    headers = file_headers(media, name)
    return StreamingResponse(
        file_chunks(media, columns, rows, options, name=name),
        media_type=headers.pop("Content-Type"),
        headers=headers,
    )


def workbook_response(
    sheets: Sequence[Sheet], options: FileOptions, *, name: str
) -> StreamingResponse:
    """Stream a workbook of several sheets, downloaded as `name.xlsx`."""
    headers = file_headers(XLSX, name)
    return StreamingResponse(
        xlsx_sheets_chunks(sheets, options), media_type=headers.pop("Content-Type"), headers=headers
    )
