"""A /predict body read with orjson: the same records json.loads gives, each record's text
reading back as that record, and one line for any body that is not JSON or not of the right
shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import DataError
from pipeline.serving.body import SHAPE, TooLarge, read_records

# What JSON itself can say: 64-bit integers, finite floats, strings without lone surrogates (the
# standard library reads the rest too; orjson refuses them, tested below).
_text = st.text(st.characters(exclude_categories=("Cs",)))
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_records = st.dictionaries(_text.filter(lambda key: len(key) <= 6), _values, max_size=4)


def _expected(payload: Any) -> list[dict[str, Any]] | None:
    """What the API takes from a parsed body: the records, or None for the wrong shape."""
    records = payload.get("records") if isinstance(payload, dict) else payload
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return None
    return records


@settings(max_examples=150, deadline=None)
@given(
    payload=st.lists(_records, max_size=4)
    | st.fixed_dictionaries({"records": st.lists(_records, max_size=4)}, optional={"x": _values})
    | _values,
    indent=st.sampled_from([None, 1]),
)
def test_any_json_body_gives_json_loads_records_and_each_records_text(
    payload: Any, indent: int | None
) -> None:
    body = json.dumps(payload, indent=indent).encode()
    expected = _expected(json.loads(body))
    if expected is None or not expected:
        with pytest.raises(DataError) as refused:
            read_records(body)
        assert str(refused.value) in (SHAPE, "the request has no records")
        return
    read = read_records(body)
    assert read.records == expected
    assert [json.loads(text) for text in read.texts] == expected
    # Keys in the client's order, as sent.
    assert [list(json.loads(text)) for text in read.texts] == [list(r) for r in expected]


def test_the_last_of_duplicate_records_members_wins_as_in_json_loads() -> None:
    body = b'{"records": [{"a": 1}], "other": [1, {"b": 2}], "records": [ {"a": 2} ,{"a":3}]}'
    read = read_records(body)
    assert read.records == json.loads(body)["records"] == [{"a": 2}, {"a": 3}]
    assert read.texts == ['{"a":2}', '{"a":3}']


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": NaN}]',
        b'[{"a": Infinity}]',
        b'[{"a": -Infinity}]',
        b'[{"a": 1e400}]',
        b'[{"a": "\\ud800"}]',
    ],
)
def test_what_is_not_json_is_refused_though_the_standard_library_reads_it(body: bytes) -> None:
    json.loads(body)  # the standard library's decoder takes it
    with pytest.raises(DataError, match="^the body is not valid JSON: "):
        read_records(body)


def test_integers_beyond_64_bits_are_read_as_floats() -> None:
    read = read_records(b'[{"a": 18446744073709551616, "b": 18446744073709551615}]')
    assert read.records == [{"a": 2.0**64, "b": 2**64 - 1}]
    assert json.loads(read.texts[0]) == read.records[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty: " + SHAPE),
        (b" \n", "the body is empty: " + SHAPE),
        (b'{"records": [{"a": 1}]', "the body is not valid JSON: "),
        (b'{"records": [{"a": 1}]} x', "the body is not valid JSON: unexpected content after"),
        (b'{"records": [{"a": 1} {"a": 2}]}', "the body is not valid JSON: "),
        (b"{records: []}", "the body is not valid JSON: "),
        (b'{"records" []}', "the body is not valid JSON: "),
        (b"\xff\xfe", "the body is not UTF-8 text (byte 0)"),
        (b'{"rows": [{"a": 1}]}', SHAPE),
        (b'{"records": {"a": 1}}', SHAPE),
        (b'[{"a": 1}, 2]', SHAPE),
        (b"17", SHAPE),
        (b"17 x", "the body is not valid JSON: unexpected content after document"),
        (b"{}", SHAPE),
        (b'{"records": []}', "the request has no records"),
    ],
)
def test_a_bad_body_is_one_line_naming_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(DataError) as refused:
        read_records(body)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_more_records_than_allowed_is_too_large() -> None:
    with pytest.raises(TooLarge, match="the request has 3 records; at most 2 per call"):
        read_records(b"[{}, {}, {}]", max_records=2)
