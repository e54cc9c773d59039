import pytest

from verification_pipeline.verdict import Verdict, worst


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["PASS", "PASS"], Verdict.PASS),
        (["PASS", "WARN"], Verdict.WARN),
        (["WARN", "INCONCLUSIVE", "PASS"], Verdict.INCONCLUSIVE),
        (["INCONCLUSIVE", "INCOMPLETE"], Verdict.INCOMPLETE),
        (["PASS", "FAIL", "INCOMPLETE", "WARN"], Verdict.FAIL),
    ],
)
def test_the_worst_verdict_wins_in_the_order_pass_warn_inconclusive_incomplete_fail(verdicts, expected):
    assert worst(verdicts) is expected


def test_no_verdicts_at_all_is_incomplete_never_pass():
    assert worst([]) is Verdict.INCOMPLETE


def test_an_unknown_verdict_word_is_refused():
    with pytest.raises(ValueError):
        worst(["PASSED"])
