"""The OpenAPI entries of /export and /import (api/transfer.py), added to openapi.py's document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..transfer.plan import Action, OnConflict

Schema = dict[str, Any]

_ACTIONS = [a.value for a in Action]
DOCUMENT_DESCRIPTION = (
    "An export document: `shardcron_export` (the version, 1), `groups` (app_name, title, address_type, manual_addresses), "
    "`calendars` (name, timezone, description, entries: lines such as `2026-12-24..2026-12-26 office closed`) "
    "and `jobs` (each job's settings, `group`: its group's app name, `children`: [{group, job}] by name, "
    "`calendars`: calendar names) and `workflows` (each workflow's settings, `group`, `enabled`, and its `definition` "
    "whose steps name their job as `job`: {group, job}). docs/operations.md describes it."
)

SCHEMAS: dict[str, Schema] = {
    "ExportDocument": {
        "type": "object",
        "description": DOCUMENT_DESCRIPTION,
        "properties": {
            "shardcron_export": {"type": "integer", "const": 1},
            "groups": {"type": "array", "items": {"type": "object"}},
            "calendars": {"type": "array", "items": {"$ref": "#/components/schemas/ExportCalendar"}},
            "jobs": {"type": "array", "items": {"type": "object"}},
            "workflows": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["shardcron_export"],
        "additionalProperties": False,
    },
    "ExportCalendar": {
        "type": "object",
        "description": "A calendar of an export document, matched by name on import.",
        "properties": {
            "name": {"type": "string", "maxLength": 64},
            "timezone": {"type": "string", "description": "IANA time zone name; the admin's default_timezone when left out."},
            "description": {"type": "string", "maxLength": 255},
            "entries": {
                "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}],
                "description": "Excluded dates, one line each (`2026-12-25 Christmas`, `2026-12-24..2026-12-26 office closed`); they replace the calendar's entries.",
            },
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    "ImportPlan": {
        "type": "object",
        "description": "What the import did, or would do on a dry run. `id` is null for what a dry run would create.",
        "properties": {
            "dry_run": {"type": "boolean"},
            "on_conflict": {"type": "string", "enum": [c.value for c in OnConflict]},
            "keep_state": {"type": "boolean"},
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "app_name": {"type": "string"},
                        "action": {"type": "string", "enum": _ACTIONS},
                        "id": {"type": ["integer", "null"]},
                        "unchanged": {"type": "boolean", "description": "An update that changes nothing."},
                    },
                },
            },
            "calendars": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "action": {"type": "string", "enum": _ACTIONS},
                        "id": {"type": ["integer", "null"]},
                        "unchanged": {"type": "boolean", "description": "An update that changes nothing."},
                    },
                },
            },
            "jobs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "group": {"type": "string"},
                        "name": {"type": "string"},
                        "action": {"type": "string", "enum": _ACTIONS},
                        "id": {"type": ["integer", "null"]},
                        "enabled": {"type": ["boolean", "null"], "description": "Whether the job is enabled after the import; null for a job left as it is."},
                    },
                },
            },
            "workflows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "group": {"type": "string"},
                        "name": {"type": "string"},
                        "action": {"type": "string", "enum": _ACTIONS},
                        "id": {"type": ["integer", "null"]},
                        "enabled": {"type": ["boolean", "null"], "description": "Whether the workflow is enabled after the import; null for one left as it is."},
                    },
                },
            },
        },
        "required": ["dry_run", "on_conflict", "keep_state", "groups", "calendars", "jobs"],
    },
}


def transfer_paths(op: Callable[..., Schema], param: Callable[..., Schema], errors: dict[str, Schema]) -> dict[str, Schema]:
    doc_ref = {"$ref": "#/components/schemas/ExportDocument"}
    document_content = {"application/json": {"schema": doc_ref}, "application/yaml": {"schema": doc_ref}}
    export = op(
        "Groups, their jobs, calendars and workflows the caller may see, as an export document",
        {"200": {"description": "The document", "content": document_content}},
        params=[
            param("format", "query", {"type": "string", "enum": ["json", "yaml"], "default": "json"}),
            param("group", "query", {"type": "string"}, "Only this group, by app name (repeat for several); default: every group the caller may see."),
        ],
        errors=("400", "401"),
        tag="transfer",
    )
    imported = op(
        "Import an export document in one transaction (every problem is listed in `fields`, by its place in the document; nothing is written then)",
        {
            "200": {"description": "The dry run's plan", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportPlan"}}}},
            "201": {"description": "Imported", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportPlan"}}}},
            "413": errors["400"] | {"description": "The document is larger than the import_max_bytes setting."},
        },
        params=[
            param("dry_run", "query", {"type": "boolean", "default": False}, "Check and plan only; write nothing."),
            param(
                "on_conflict", "query", {"type": "string", "enum": [c.value for c in OnConflict], "default": "skip"},
                "A group, calendar or job that exists already: leave it, overwrite it, or refuse the import.",
            ),
            param("keep_state", "query", {"type": "boolean", "default": False}, "Enable the jobs the document says are enabled (default: new jobs arrive stopped, updated jobs keep their state)."),
        ],
        errors=("400", "401", "403"),
        tag="transfer",
    )
    imported["requestBody"] = {"required": True, "content": document_content}
    return {"/export": {"get": export}, "/import": {"post": imported}}
