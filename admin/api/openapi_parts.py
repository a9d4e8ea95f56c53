"""Building blocks of the OpenAPI document (openapi.py): value schemas, references, parameters, operations, errors."""

from __future__ import annotations

from typing import Any

from shardcron.core.numbers import EPOCH_MS_MAX, EPOCH_MS_MIN, ID_MAX, ID_MIN

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def enum_of(cls) -> Schema:
    return {"type": "string", "enum": [e.value for e in cls]}


INT: Schema = {"type": "integer"}
#: Ids in paths and filters: a path id out of this range is a 404, a filter id a 400 naming it.
ID: Schema = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
#: Instants a caller may name (1970 to 9999); outside them, a 400 naming the parameter.
MS_PARAM: Schema = {"type": "integer", "minimum": EPOCH_MS_MIN, "maximum": EPOCH_MS_MAX, "description": "UTC epoch milliseconds"}
MS: Schema = {"type": "integer", "description": "UTC epoch milliseconds"}
MS_OR_NULL: Schema = {"type": ["integer", "null"], "description": "UTC epoch milliseconds"}
STR: Schema = {"type": "string"}
STR_OR_NULL: Schema = {"type": ["string", "null"]}
BOOL: Schema = {"type": "boolean"}
INT_LIST: Schema = {"type": "array", "items": INT}


def object_schema(properties: dict[str, Schema], required: list[str] | None = None, description: str | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def page_of(item: str) -> Schema:
    return object_schema(
        {
            "items": {"type": "array", "items": ref(item)},
            "page": INT,
            "per_page": INT,
            "total": {"type": "integer", "description": "Matching rows; a lower bound when total_exact is false."},
            "total_exact": {"type": "boolean", "description": "False when counting stopped at 10,000 matching runs."},
            "pages": INT,
        },
        ["items", "page", "per_page", "total", "total_exact", "pages"],
    )


#: A group's concurrency cap (firing.caps), in and out.


def error_response(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


ERRORS = {
    "400": error_response("Invalid input; `fields` names each bad field."),
    "401": error_response("No, an invalid or a revoked API token."),
    "403": error_response("The caller may not do this (e.g. not an admin)."),
    "404": error_response("No such object, or one in a group the caller is not granted."),
    "409": error_response("Conflicts with the current state (a name taken, a group with jobs, the last admin, a finished run)."),
}


def json_response(schema: str, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


NO_CONTENT = {"description": "Done; no content."}


def param(name: str, where: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema, "description": description}


PAGING = [
    param("page", "query", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
    param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}),
]
PREVIEW_COUNT = param("count", "query", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5})


def operation(
    summary: str, responses: dict[str, Schema], *, body: str | None = None, body_required: bool = True, params: list[Schema] | None = None,
    errors: tuple[str, ...] = ("401", "404"), tag: str,
) -> Schema:
    op: Schema = {"summary": summary, "tags": [tag], "responses": {**{code: ERRORS[code] for code in errors}, **responses}}
    if body:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": ref(body)}}}
    if params:
        op["parameters"] = params
    return op


def path_id(name: str) -> list[Schema]:
    return [param(name, "path", ID)]
