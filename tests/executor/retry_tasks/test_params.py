"""The drainer's parameter syntax: defaults, every key, and errors that name the bad key."""

from __future__ import annotations

import pytest

from shardcron.executor.retry_tasks import DrainerParamError, DrainerParams, RedriveScope, parse_drainer_params
from shardcron.executor.retry_tasks.params import DEFAULT_BUDGET_S


def test_empty_parameter_means_defaults() -> None:
    assert parse_drainer_params("") == DrainerParams()
    assert parse_drainer_params(None) == DrainerParams()
    assert parse_drainer_params("  \n ") == DrainerParams()


def test_every_key() -> None:
    params = parse_drainer_params("budget_s=20 batch=200  concurrency=4 lease_s=90 task_codes=A,B,A redrive=task_code:SMS")
    assert params == DrainerParams(
        budget_s=20.0, batch=200, concurrency=4, lease_s=90.0, task_codes=("A", "B"), redrive=RedriveScope("task_code", "SMS")
    )
    assert parse_drainer_params(params.to_text()) == params


@pytest.mark.parametrize(
    ("text", "scope"),
    [("redrive=all", RedriveScope("all")), ("redrive=request_no:R-1:x", RedriveScope("request_no", "R-1:x")), ("redrive=task_code:A", RedriveScope("task_code", "A"))],
)
def test_redrive_forms(text: str, scope: RedriveScope) -> None:
    assert parse_drainer_params(text).redrive == scope


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("batch=0", "batch", "between 1 and 5000"),
        ("batch=abc", "batch", "whole number"),
        ("batch=10 batch=20", "batch", "more than once"),
        ("concurrency=999", "concurrency", "between 1 and 256"),
        ("budget_s=-1", "budget_s", "between"),
        ("budget_s=nan", "budget_s", "between"),
        ("lease_s=1", "lease_s", "between 5"),
        ("task_codes=", "task_codes", "comma-separated"),
        ("task_codes=A,,B", "task_codes", "comma-separated"),
        ("redrive=everything", "redrive", "expected all, task_code:CODE or request_no:NUMBER"),
        ("redrive=task_code:", "redrive", "expected all"),
        ("sizes=3", "sizes", "unknown key"),
        ("batch", "batch", "expected key=value"),
    ],
)
def test_bad_parameters_name_the_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(DrainerParamError) as err:
        parse_drainer_params(text)
    assert err.value.key == key
    assert str(err.value).startswith(f"invalid drainer parameter {key}")
    assert reason in str(err.value)


def test_budget_defaults_from_the_job_timeout() -> None:
    assert DrainerParams().effective_budget_s(timeout_s=0) == DEFAULT_BUDGET_S
    assert DrainerParams().effective_budget_s(timeout_s=50) == 40.0
    assert DrainerParams().effective_budget_s(timeout_s=1) == 1.0
    assert DrainerParams(budget_s=5).effective_budget_s(timeout_s=50) == 5.0
