"""Each distinct cell of a column is parsed once; a failing cell fails on every row it is on;
a column that hardly repeats stops being remembered."""

from __future__ import annotations

import pytest

from winback.customers.import_errors import RowProblem
from winback.customers.import_rows import _Memo
from winback.customers.import_values import parse_date


def test_a_repeated_cell_is_parsed_once() -> None:
    calls = []

    def parser(raw):
        calls.append(raw)
        return parse_date(raw)

    memo = _Memo()
    values = [memo.parse(parser, cell) for cell in ["2024/3/5", "2024年3月5日", "2024/3/5"] * 100]
    assert calls == ["2024/3/5", "2024年3月5日"]
    assert {str(v) for v in values} == {"2024-03-05"}


def test_a_bad_cell_is_reported_on_every_row() -> None:
    memo = _Memo()
    codes = []
    for _ in range(3):
        with pytest.raises(RowProblem) as caught:
            memo.parse(parse_date, "2024/13/45")
        codes.append(caught.value.code)
    assert len(set(codes)) == 1 and codes[0]


def test_a_column_of_unique_cells_is_not_remembered() -> None:
    memo = _Memo()
    for n in range(_Memo.SAMPLE + 10):
        assert memo.parse(str.upper, f"ro{n}") == f"RO{n}"
    assert not memo.on and not memo.values
