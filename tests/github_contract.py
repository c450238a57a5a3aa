"""GitHub's own contract for the fake GitHub: its published OpenAPI description.

Every request Driftgate sends and every answer the fake gives are checked against
``@octokit/openapi`` (npm; scripts/bootstrap.sh installs it), GitHub's OpenAPI description of
api.github.com, with openapi-core: the operation exists, its path, query and JSON body match the
schema, and the answer matches the schema of its status code. The events the workflows read are
checked against the same description's webhook schemas (``x-webhooks``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DESCRIPTION = (
    REPO / ".venv" / "node" / "node_modules" / "@octokit" / "openapi" / "generated"
    / "api.github.com.json"
)  # fmt: skip
SERVER = "http://fake-github.invalid"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str


@functools.lru_cache(maxsize=1)
def description() -> dict[str, Any]:
    if not DESCRIPTION.exists():
        raise FileNotFoundError(f"{DESCRIPTION}: run scripts/bootstrap.sh (npm @octokit/openapi)")
    spec: dict[str, Any] = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    spec["servers"] = [{"url": SERVER}]
    return spec


@functools.lru_cache(maxsize=None)
def _openapi(template: str) -> Any:
    """openapi-core over the description with one path: the one the request's path matched.

    The operation is already known (:func:`operation`); left with all 800 paths, openapi-core
    matched each request's URL against every template again, twice an exchange: half of the soak
    test's checking time. The components stay whole, shared, and unchanged.
    """
    from openapi_core import Config, OpenAPI

    spec = description()
    one_path = {**spec, "paths": {template: spec["paths"][template]}}
    # The description itself is GitHub's, validated where it is published: not again here
    # (that takes 35 s for its 800 paths).
    return OpenAPI.from_dict(one_path, config=Config(spec_validator_cls=None))


# Parameters whose values hold slashes (a file's path, a branch's ref "heads/x").
_MULTI_SEGMENT = ("path", "ref")


@functools.lru_cache(maxsize=1)
def _templates() -> list[tuple[re.Pattern[str], str, dict[str, str]]]:
    found = []
    for template, item in description()["paths"].items():

        def group(match: re.Match[str]) -> str:
            return "(.+)" if match.group(1) in _MULTI_SEGMENT else "([^/]+)"

        pattern = re.sub(r"\{([^}/]+)\}", group, template)
        ids = {
            m: op["operationId"]
            for m, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }
        found.append((re.compile(f"^{pattern}$"), template, ids))
    # The most specific template first: fewer parameters, then longer literal text.
    found.sort(key=lambda f: (f[1].count("{"), -len(f[1])))
    return found


def operation(method: str, path: str) -> Operation | None:
    for pattern, template, ids in _templates():
        if pattern.match(path) and method.lower() in ids:
            return Operation(method.upper(), template, ids[method.lower()])
    return None


def _one_segment(found: Operation, path: str) -> str:
    """The path with slashes inside multi-segment parameters encoded, as one path segment."""
    from urllib.parse import quote

    for pattern, template, _ in _templates():
        if template == found.template:
            match = pattern.match(path)
            assert match is not None
            names = re.findall(r"\{([^}/]+)\}", template)
            values = {
                name: quote(value, safe="") if name in _MULTI_SEGMENT else value
                for name, value in zip(names, match.groups(), strict=True)
            }
            return re.sub(r"\{([^}/]+)\}", lambda m: values[m.group(1)], template)
    return path


def check_exchange(
    method: str, path: str, query: str, body: bytes, status: int, answer: bytes
) -> list[str]:
    """What in one request and its answer GitHub's description does not allow (empty: all)."""
    from openapi_core.testing import MockRequest, MockResponse

    found = operation(method, path)
    if found is None:
        return [f"{method} {path}: no such operation in GitHub's REST API"]
    request = MockRequest(
        SERVER,
        method.lower(),
        _one_segment(found, path),
        args=_query(query),
        data=body or None,
        content_type="application/json" if body else None,
    )
    problems = []
    try:
        _openapi(found.template).validate_request(request)
    except Exception as error:  # noqa: BLE001 - openapi-core's errors, reported as text
        problems.append(f"request {found.operation_id}: {_why(error)}")
    responses = description()["paths"][found.template][method.lower()]["responses"]
    # GitHub's description lists the errors each operation answers; a 5xx of an outage, or a
    # status it does not list for the operation, has no schema to hold the answer to.
    if str(status) in responses and status < 500:
        response = MockResponse(answer, status_code=status, content_type="application/json")
        try:
            _openapi(found.template).validate_response(request, response)
        except Exception as error:  # noqa: BLE001
            if not _fits_one_branch(method, path, status, answer):
                problems.append(f"answer {status} to {found.operation_id}: {_why(error)}")
    return problems


def _fits_one_branch(method: str, path: str, status: int, answer: bytes) -> bool:
    """Whether an answer whose schema is a oneOf fits at least one of its branches.

    GitHub's description declares some answers as a oneOf of schemas that overlap: a 409 is
    ``basic-error`` or ``repository-rule-violation-error``, and any error body fits both, so a
    strict oneOf would refuse GitHub's own answers. Such a oneOf is read as an anyOf.
    """
    from openapi_schema_validator import OAS30Validator

    schema = answer_schema(method, path, status) or {}
    branches = schema.get("oneOf")
    if not branches:
        return False
    value = json.loads(answer) if answer else None
    components = description()["components"]
    return any(
        OAS30Validator({**branch, "components": components}).is_valid(value) for branch in branches
    )


def event_schema(name: str) -> dict[str, Any]:
    """The schema of a webhook's payload (e.g. ``pull-request-closed``) in the description."""
    webhook = description()["x-webhooks"][name]["post"]
    return _resolve(webhook["requestBody"]["content"]["application/json"]["schema"])


def check_event(name: str, payload: dict[str, Any]) -> list[str]:
    """A webhook payload (e.g. ``pull-request-closed``) against its schema in the description."""
    from openapi_schema_validator import OAS30Validator

    # Its $refs point into the description's components: resolve them from there.
    validator = OAS30Validator({**event_schema(name), "components": description()["components"]})
    return [
        f"event {name}: {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
        for e in validator.iter_errors(payload)
    ][:20]


def _query(query: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query, keep_blank_values=True))


def _why(error: BaseException) -> str:
    text = str(error)
    cause = error.__cause__
    while cause is not None:
        text += f" <- {cause}"
        cause = cause.__cause__
    # The value itself (a whole issue) says less than the schema's complaint about it.
    text = re.sub(r"Value .{0,20000}? not valid for schema of type (\w+)", r"not a valid \1", text)
    return " ".join(text.split())[:600]


def answer_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The JSON schema GitHub's description gives the answer to this call with ``status``."""
    found = operation(method, path)
    if found is None:
        return None
    responses = description()["paths"][found.template][method.lower()]["responses"]
    response = _resolve(responses.get(str(status)) or {})
    schema = (response.get("content") or {}).get("application/json", {}).get("schema")
    return _resolve(schema) if schema else None


def complete(value: Any, schema: dict[str, Any] | None) -> Any:
    """``value`` with every property the schema requires and it lacks, filled with a value of
    the schema's type (format and enum respected; null where the schema allows it).

    The fake sets what Driftgate and PyGithub read (numbers, titles, labels, URLs); GitHub's
    answers carry many more fields (node ids, avatar URLs, counters) that nothing here reads.
    Filled from the schema, the answer has GitHub's shape; what the fake does set is still
    checked against it (types, enums, formats).
    """
    if schema is None:
        return value
    schema = _merged(_resolve(schema))
    if isinstance(value, dict):
        branch = _branch(schema, value)
        properties = branch.get("properties") or {}
        for name in branch.get("required") or []:
            if name not in value:
                value[name] = _placeholder(properties.get(name) or {})
        for name, sub in properties.items():
            if name in value and value[name] is not None:
                value[name] = complete(value[name], sub)
        return value
    if isinstance(value, list):
        branch = _branch(schema, value)
        items = branch.get("items")
        return [complete(item, items) for item in value] if items else value
    return value


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        node: Any = description()
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _merged(_resolve(part))
        merged.setdefault("type", part.get("type"))
        merged["properties"] = {
            **(part.get("properties") or {}),
            **(merged.get("properties") or {}),
        }
        merged["required"] = sorted(
            set(merged.get("required") or []) | set(part.get("required") or [])
        )
    return merged


def _branch(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    """The branch of a oneOf/anyOf that fits the value's kind (object or array)."""
    options = schema.get("oneOf") or schema.get("anyOf")
    if not options:
        return schema
    kind = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
    for option in options:
        option = _merged(_resolve(option))
        if option.get("type") == kind or (kind == "object" and "properties" in option):
            return option
    return schema


def _placeholder(schema: dict[str, Any]) -> Any:
    schema = _merged(_resolve(schema))
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        # A value of a branch, not null: OpenAPI 3.0 validators do not apply "nullable" beside
        # a oneOf without a "type" (GitHub's pushed_at is written so).
        candidates = [_placeholder(option) for option in options]
        return next((c for c in candidates if c is not None), candidates[0])
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or (kind is None and "properties" in schema):
        return complete({}, schema)
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    formats = {
        "date-time": "2026-01-01T00:00:00Z",
        "uri": "https://github.com/acme/driftgate",
        "uri-template": "https://github.com/acme/driftgate{/path}",
        "email": "driftgate-bot@users.noreply.github.com",
    }
    return formats.get(schema.get("format", ""), "")
