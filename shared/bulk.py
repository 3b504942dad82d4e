"""Bulk uploads (JSON or CSV): parse every row, validate every row, reject the file whole."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import Unprocessable, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)

MAX_ROWS = 500_000
CSV_TYPES = ("text/csv", "application/csv")
JSON_TYPES = ("application/json",)


class BadFile(Unprocessable):
    slug = "bad-rows"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _json_rows(body: bytes) -> list[Any]:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadFile(
            f"The body is not UTF-8 JSON: {exc}", errors=[{"loc": ["body"], "msg": str(exc)}]
        ) from None
    if isinstance(data, dict):
        extra = sorted(set(data) - {"items"})
        if extra or not isinstance(data.get("items"), list):
            raise BadFile(
                'Send a JSON array of rows, or exactly {"items": [...]}',
                errors=[
                    {
                        "loc": ["body", *extra[:1]],
                        "msg": "unexpected member" if extra else "items must be an array",
                    }
                ],
            )
        data = data["items"]
    if not isinstance(data, list):
        raise BadFile(
            'Send a JSON array of rows, or {"items": [...]}',
            errors=[{"loc": ["body"], "msg": "expected an array"}],
        )
    return data


def _csv_rows(body: bytes, list_fields: Sequence[str]) -> list[Any]:
    try:
        text = body.decode("utf-8-sig")  # with or without a BOM
    except UnicodeDecodeError as exc:
        raise BadFile(
            "The CSV file is not UTF-8", errors=[{"loc": ["body"], "msg": str(exc)}]
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise BadFile(
            "The CSV file has no header row", errors=[{"loc": ["body"], "msg": "no header"}]
        )
    names = [n.strip() for n in reader.fieldnames]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated or "" in names:
        problems = [{"loc": ["header", n], "msg": "repeated column"} for n in repeated]
        raise BadFile(
            "The CSV header names a column twice or has an empty column name",
            errors=problems or [{"loc": ["header"], "msg": "empty column name"}],
        )
    rows: list[Any] = []
    for record in reader:
        row: dict[str, Any] = {}
        for key, value in record.items():
            if key is None:  # more cells than headers
                row["__extra__"] = value
                continue
            if value is None:  # fewer cells than headers: never guess what is missing
                row["__missing__"] = key
                continue
            key = key.strip()
            if value.strip() == "":
                continue
            value = value.strip()
            row[key] = (
                [v.strip() for v in value.replace(";", "|").split("|") if v.strip()]
                if key in list_fields
                else value
            )
        rows.append(row)
    return rows


def parse_rows(
    body: bytes,
    content_type: str | None,
    model: type[M],
    *,
    list_fields: Sequence[str] = (),
    check: Callable[[list[M]], dict[int, list[tuple[str, str]]]] | None = None,
) -> list[M]:
    """Parse and validate every row of a JSON or CSV body into `model`.

    Any bad row rejects the whole file with a `BadFile` whose `errors` name every bad row
    (`loc: ["row", n, field]`, n counted from 1 over data rows, the CSV header excluded).
    `check` adds cross-row or database checks, returning {row index: [(field, message)]}.
    """
    media = _media_type(content_type)
    from_text = media in CSV_TYPES  # cells are text: "12" is read as 12 (shared.integers)
    if from_text:
        raw = _csv_rows(body, list_fields)
    elif media in JSON_TYPES or media.endswith("+json"):
        raw = _json_rows(body)
    else:
        raise UnsupportedMediaType("Send application/json or text/csv (UTF-8)")
    if len(raw) > MAX_ROWS:
        raise BadFile(
            f"At most {MAX_ROWS} rows per file", errors=[{"loc": ["body"], "msg": "too many rows"}]
        )
    if not raw:
        raise BadFile("The file has no rows", errors=[{"loc": ["body"], "msg": "no rows"}])
    errors: list[dict[str, Any]] = []
    parsed: list[M] = []
    for number, row in enumerate(raw, start=1):
        if isinstance(row, dict) and ("__extra__" in row or "__missing__" in row):
            message = (
                "more cells than header columns"
                if "__extra__" in row
                else "fewer cells than header columns"
            )
            errors.append({"loc": ["row", number], "msg": message, "type": "csv_cell_count"})
            continue
        try:
            parsed.append(model.model_validate(row, strict=False if from_text else None))
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                errors.append(
                    {"loc": ["row", number, *err["loc"]], "msg": err["msg"], "type": err["type"]}
                )
    if not errors and check is not None:
        for index, problems in sorted(check(parsed).items()):
            for field, message in problems:
                errors.append(
                    {"loc": ["row", index + 1, field], "msg": message, "type": "row_check"}
                )
    if errors:
        bad_rows = sorted({e["loc"][1] for e in errors})
        slug_uscc = any(e.get("type") == "invalid_uscc" for e in errors)
        exc_type = BadUsccFile if slug_uscc else BadFile
        raise exc_type(
            f"{len(bad_rows)} bad row(s): {', '.join(map(str, bad_rows[:20]))}"
            + ("…" if len(bad_rows) > 20 else "")
            + "; nothing was written",
            errors=errors,
        )
    return parsed


class BadUsccFile(BadFile):
    slug = "invalid-uscc"
