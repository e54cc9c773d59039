"""One spelling per kind of number: what the reasons, tables, rules and dashboards print."""

from verification_pipeline.formatting import (
    approximate,
    bounds,
    exact,
    exact_percent,
    fixed,
    level,
    signed,
    significant,
)


def test_a_missing_figure_is_said_never_printed_as_zero():
    assert significant(None) == fixed(None) == signed(None) == "n/a"
    assert fixed(None, missing="-") == "-"
    assert bounds(None, None) == "[-inf, +inf]"


def test_each_kind_of_number_has_its_spelling():
    assert significant(12.345678) == "12.3457" and significant(12.345678, 4) == "12.35"
    assert signed(0.5) == "+0.5" and signed(-1.23456) == "-1.235"
    assert fixed(2.0) == "2.000" and fixed(2.0, 1) == "2.0"
    assert level(0.95) == "95%" and level(0.999) == "99.9%"
    assert bounds(1.5, None, 4) == "[1.5, +inf]" and bounds(None, 12.345678) == "[-inf, 12.3457]"
    assert exact(1 - 0.999) == "0.001" and exact(0.999) == "0.999"
    assert exact_percent(0.001) == "0.1 %"


def test_an_estimate_shows_three_significant_digits_and_never_an_exponent():
    # an effective n of 10.0165 read as noise in a reason; 3121.7 must not become 3.12e+03
    assert [approximate(v) for v in (10.0165, 1.23456, 312.7, 3121.7, 0.5)] == [
        "10",
        "1.23",
        "313",
        "3122",
        "0.5",
    ]
    assert approximate(None) == "n/a"


def test_a_measurement_is_rounded_by_its_unit_and_other_units_by_the_writers_spec():
    from verification_pipeline.formatting import measured, unit_symbol

    assert unit_symbol("percent") == "%" and unit_symbol("ms") == "ms" and unit_symbol("") == ""
    assert measured(123.456, "ms") == "123.5" and measured(0.12345, "percent") == "0.123"
    assert measured(0.12345, "%") == "0.123"  # the symbol reads as its unit
    assert measured(1234.5678, "") == "1234.57" and measured(1234.5678, "", ".4g") == "1235"
