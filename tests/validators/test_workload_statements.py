"""Workload files are cut into statements by tokens: a `;` inside a quoted identifier, a literal or a comment
does not end a statement, and text sqlglot cannot tokenize becomes that statement's error, never an exception."""

from __future__ import annotations

from prodlike.validators import plans


def test_semicolons_inside_names_literals_and_comments_do_not_cut():
    text = 'SELECT * FROM "a;b" WHERE x = \'1;2\';\n-- a comment; with a semicolon\nSELECT 2;\n'
    assert plans._statements(text) == ['SELECT * FROM "a;b" WHERE x = \'1;2\'', "SELECT 2"]
    assert [q.error for q in plans.load_workload(text)] == [None, None]


def test_untokenizable_text_is_the_statements_error():
    [query] = plans.load_workload('SELECT * FROM "unterminated')
    assert query.error.startswith("does not parse: Error tokenizing")
