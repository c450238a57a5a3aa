"""The records of a ``POST /predict`` body, each with its own JSON text.

The prediction log keeps every record as JSON. Writing each record out again cost more than
anything else the API did per record (``json.dumps`` of a 34-key record: 7.8 us; parsing it:
4.1 us), so the body is parsed record by record with the standard library's decoder and each
record's own text is kept: the log holds the bytes the client sent, and reading them back gives
the same values ``json.loads`` of the whole body would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pipeline.errors import DataError

SHAPE = 'the body must be {"records": [{"<column>": <value>, ...}, ...]}'

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, and nothing else


class TooLarge(DataError):
    """A request beyond the configured limits: a 413, not a 422."""


@dataclass(frozen=True)
class RequestRecords:
    records: list[dict[str, Any]]
    # Each record's JSON exactly as the client sent it (what the prediction log keeps).
    texts: list[str]


def read_records(body: bytes, max_records: int = 10000) -> RequestRecords:
    """``{"records": [...]}`` or a bare list of objects; one line naming what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"the body is not UTF-8 text (byte {error.start})") from None
    try:
        found = _top_level(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    if found is None:
        raise DataError(SHAPE)
    records, texts = found
    if not records:
        raise DataError("the request has no records")
    if len(records) > max_records:
        raise TooLarge(
            f"the request has {len(records)} records; at most {max_records} per call "
            "(serve_max_records)"
        )
    return RequestRecords(records, texts)


def _top_level(text: str) -> tuple[list[dict[str, Any]], list[str]] | None:
    """The records and their texts; None when the JSON is valid but not of the right shape."""
    start = _skip(text, 0)
    if text.startswith("[", start):
        found, end = _array(text, start)
    elif text.startswith("{", start):
        found, end = _records_member(text, start)
    else:  # valid JSON of the wrong shape (a number, a string) or a JSON error
        _, end = _DECODER.raw_decode(text, start)
        _end_of_document(text, end)
        return None
    _end_of_document(text, end)
    return found


def _records_member(
    text: str, at: int
) -> tuple[tuple[list[dict[str, Any]], list[str]] | None, int]:
    """An object's ``"records"`` member read as an array of records (the last one, as
    ``json.loads`` keeps the last of duplicate keys); other members are only decoded."""
    found = None
    index = _skip(text, at + 1)
    if text.startswith("}", index):
        return None, index + 1
    while True:
        if not text.startswith('"', index):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, index
            )
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if not text.startswith(":", index):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, index)
        index = _skip(text, index + 1)
        if key == "records":
            if text.startswith("[", index):
                found, index = _array(text, index)
            else:
                _, index = _DECODER.raw_decode(text, index)
                found = None
        else:
            _, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text.startswith("}", index):
            return found, index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _array(text: str, at: int) -> tuple[tuple[list[dict[str, Any]], list[str]] | None, int]:
    """An array's elements with their texts; None (after reading it all) if one is not an
    object."""
    records: list[dict[str, Any]] = []
    texts: list[str] = []
    objects = True
    decode = _DECODER.raw_decode
    index = _skip(text, at + 1)
    if text.startswith("]", index):
        return (records, texts), index + 1
    while True:
        value, end = decode(text, index)
        if objects and type(value) is dict:
            records.append(value)
            texts.append(text[index:end])
        else:
            objects = False
        index = _skip(text, end)
        if text.startswith("]", index):
            return ((records, texts) if objects else None), index + 1
        if not text.startswith(",", index):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _end_of_document(text: str, index: int) -> None:
    index = _skip(text, index)
    if index != len(text):
        raise json.JSONDecodeError("Extra data", text, index)


def _skip(text: str, index: int) -> int:
    """The index after the whitespace at ``index`` (the pattern matches the empty string)."""
    return _SPACE.match(text, index).end()  # type: ignore[union-attr]
