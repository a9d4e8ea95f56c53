"""Reading a document: format by flag, extension or content; one clear line for what cannot be read."""

from __future__ import annotations

import pytest

from shardcron.admin.transfer.document import DocumentError, guess_format, read_document

#: Six levels of nine aliases each: a few hundred bytes that expand to 9**6 values.
ALIASES = "a: &l0 [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" + "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 6))


def test_format_by_extension_then_content() -> None:
    assert guess_format("{}", "a.yaml") == "yaml"
    assert guess_format("a: 1", "a.JSON") == "json"
    assert guess_format("  {\n}", None) == "json"
    assert guess_format("shardcron_export: 1", "-") == "yaml"


def test_json_and_yaml_give_the_same_document() -> None:
    assert read_document('{"shardcron_export": 1}', max_bytes=100) == read_document(b"\xef\xbb\xbfshardcron_export: 1\n", max_bytes=100)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"shardcron_export": 1, "jobs": [{"name": "a\\u0000b"}]}', "NUL characters are not accepted (at jobs[0].name)"),
        ('shardcron_export: 1\njobs:\n- name: "a\\0b"\n', "NUL characters are not accepted (at jobs[0].name)"),
        ('shardcron_export: 1\n"k\\0": 1\n', "NUL characters are not accepted (at /)"),
        ("[" * 100_000, "the document nests too deeply"),
        (ALIASES, "the document repeats itself too often (YAML aliases); write it out in full"),
        ("a: [1,\n", "not a YAML document: line 2, column 1: expected the node content, but found '<stream end>'"),
        ("{'a': 1}", "not a JSON document: line 1, column 2: Expecting property name enclosed in double quotes"),
        ("   \n", "the document is empty"),
        ("just text", "the document must be an object with shardcron_export, groups and jobs"),
    ],
)
def test_what_cannot_be_read_is_one_line(raw: str, message: str) -> None:
    with pytest.raises(DocumentError) as refused:
        read_document(raw, max_bytes=200_000)
    assert str(refused.value) == message
    assert refused.value.status == 400


def test_a_document_over_the_bound_is_413() -> None:
    with pytest.raises(DocumentError, match=r"the document is 11 bytes; at most 10 are read \(setting import_max_bytes\)") as refused:
        read_document(b'{"a": "bc"}', max_bytes=10)
    assert refused.value.status == 413
    with pytest.raises(DocumentError, match=r"not UTF-8 text \(byte 1\)"):
        read_document(b"a\xff", max_bytes=10)
    with pytest.raises(DocumentError, match="format must be json or yaml"):
        read_document("{}", max_bytes=10, fmt="xml")
