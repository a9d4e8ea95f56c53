"""`Text`: English as a string, the same message in Chinese through the zh catalog — with
parameters, nested messages, lists of them and plurals — and a broken translation falling back
to English rather than failing the page."""

from __future__ import annotations

import copy
import pickle

import pytest
from babel.support import Translations

from shardcron.admin.i18n import TRANSLATIONS_DIR
from shardcron.admin.schedules.cron import CronError, parse_cron
from shardcron.admin.schedules.schedule import ScheduleError, validate_schedule
from shardcron.admin.services.errors import FieldErrors, NotFound, ServiceError
from shardcron.admin.texts import ENGLISH, Text, _nt, _t, render, untranslated

ZH = Translations.load(str(TRANSLATIONS_DIR), ["zh"])


def test_a_text_is_its_english_string() -> None:
    text = _t("job %(id)s not saved", id=7)
    assert isinstance(text, str) and text == "job 7 not saved" and f"{text}!" == "job 7 not saved!"
    assert render(text, ENGLISH) == "job 7 not saved"
    assert render("plain", ZH) == "plain"  # a plain string is shown as it is


def test_chinese_with_parameters_nesting_lists_and_plurals() -> None:
    assert render(_t("job %(id)s not saved", id=7), ZH) == "任务 7 未保存"
    nested = _t("%(what)s: %(problem)s", what=_t("job not saved"), problem=_t("must be text"))
    assert nested == "job not saved: must be text" and render(nested, ZH) == "任务未保存：必须是文本"
    listed = _t("no preview: %(problem)s", problem=(_t("must be text"), _t("is required")))
    assert listed == "no preview: must be text; is required" and render(listed, ZH) == "无法预览：必须是文本; 必填"
    one, two = (_nt("executor group %(name)s still has %(num)d job; delete or move it first",
                    "executor group %(name)s still has %(num)d jobs; delete or move them first", n, name="'billing'") for n in (1, 2))  # fmt: skip
    assert one.startswith("executor group 'billing' still has 1 job;") and two.startswith("executor group 'billing' still has 2 jobs;")
    assert render(two, ZH) == "执行器 'billing' 下还有 2 个任务；请先删除或移走"


def test_a_broken_translation_falls_back_to_english_and_a_broken_id_fails() -> None:
    class Broken:
        def gettext(self, message: str) -> str:
            return "坏了 %(nope)s"

        def ngettext(self, singular: str, plural: str, n: int) -> str:
            return "坏了 %(nope)s"

    assert render(_t("job %(id)s not found", id=3), Broken()) == "job 3 not found"
    with pytest.raises(KeyError):
        _t("job %(id)s not found", job=3)


def test_copies_keep_the_message() -> None:
    text = _t("run %(id)s not found", id=9)
    for again in (copy.deepcopy(text), pickle.loads(pickle.dumps(text))):
        assert isinstance(again, Text) and again == text and render(again, ZH) == "调度 9 不存在"
    assert render(untranslated("no user named 'x'"), ZH) == "no user named 'x'"


def test_cron_and_schedule_errors_in_chinese() -> None:
    with pytest.raises(CronError) as cron:
        parse_cron("0 0 32 * *")
    assert cron.value.text == "day-of-month 32 is out of range 1-31 in '0 0 32 * *'"
    assert render(cron.value.text, ZH) == "日 32 超出范围 1-31（Cron 表达式 '0 0 32 * *'）"
    with pytest.raises(CronError) as month:
        parse_cron("0 0 1 FOO *")
    assert render(month.value.text, ZH) == "月 'FOO' 不是 1-12 之间的数字 或月份名 JAN-DEC（Cron 表达式 '0 0 1 FOO *'）"
    with pytest.raises(ScheduleError) as zone:
        validate_schedule("CRON", "0 0 * * *", "Mars/Base")
    assert zone.value.field == "timezone" and render(zone.value.reason, ZH) == "'Mars/Base' 不是 IANA 时区名称（如 UTC、Asia/Shanghai）"


def test_service_errors_in_chinese_with_the_field_names_kept() -> None:
    errors = FieldErrors()
    errors.add("name", _t("is required"))
    errors.add("retry_count", _t("must be between %(low)s and %(high)s", low=0, high=100))
    with pytest.raises(ServiceError) as refused:
        errors.raise_if_any(_t("job %(id)s not saved", id=4))
    exc = refused.value
    assert exc.message == "job 4 not saved: 2 invalid fields (name: is required; retry_count: must be between 0 and 100)"
    assert render(exc.message, ZH) == "任务 4 未保存：2 个字段有误（name：必填; retry_count：必须在 0 到 100 之间）"
    assert {field: render(text, ZH) for field, text in exc.field_errors.items()} == {"name": "必填", "retry_count": "必须在 0 到 100 之间"}
    assert render(NotFound("executor group", 12).message, ZH) == "执行器 12 不存在"
