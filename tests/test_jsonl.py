"""The one JSONL reader (hypofinder.jsonl): a record ends at '\\n' only. JSON allows U+2028 inside a string,
so such a line loads alike in `mine` (questions), `eval` (references) and `library add` (records); a line
that is not JSON is named by its number."""

from __future__ import annotations

import json

from hypofinder.evaluation import read_references
from hypofinder.jsonl import jsonl_lines
from hypofinder.library.ingest import read as read_library_file
from hypofinder.mining import read_queries

QUESTION = "Do sulfur vacancies in MoS2\u2028lower the gap?"  # a line separator inside the string


def _write(path, records, bad: str = "{not json") -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join([lines[0], bad, *lines[1:]]) + "\n", encoding="utf-8")


def test_line_separator_inside_a_string_is_one_record_and_bad_lines_are_named():
    problems: list[str] = []
    text = json.dumps({"a": "x\u2028y\u2029z\x85w"}, ensure_ascii=False) + "\n\n[1, 2]\n{oops\n"
    assert len(text.splitlines()) > 4  # what str.splitlines would have cut
    got = list(jsonl_lines(text, problems, lambda n: f"f.jsonl line {n}"))
    assert got == [("f.jsonl line 1", {"a": "x\u2028y\u2029z\x85w"}), ("f.jsonl line 3", [1, 2])]
    assert problems == [
        "f.jsonl line 4: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    ]


def test_u2028_line_loads_in_mine_eval_and_library_add(tmp_path):
    q = tmp_path / "q.jsonl"
    _write(q, [{"id": "a", "query": QUESTION}, {"id": "b", "query": "Is h-BN stable?"}])
    qs = read_queries(q)
    assert [i.query for i in qs.items] == [QUESTION, "Is h-BN stable?"]
    assert qs.problems == [
        "q.jsonl line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    ]

    r = tmp_path / "refs.jsonl"
    _write(r, [{"id": "a", "query": QUESTION, "reference_hypothesis": "Pairs\u2028close the gap."}])
    refs = read_references(r)
    assert [(x.query, x.reference_hypothesis) for x in refs.items] == [(QUESTION, "Pairs\u2028close the gap.")]
    assert refs.problems[0].startswith("refs.jsonl line 2: not valid JSON")

    lib = tmp_path / "recs.jsonl"
    _write(lib, [{"id": "p1", "title": "Vacancies\u2028in MoS2", "abstract": QUESTION}, {"id": "p2", "title": "BN"}])
    parsed = read_library_file(lib)
    assert [d.id for d in parsed.documents] == ["p1", "p2"]
    assert parsed.problems == [
        f"{lib}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    ]
