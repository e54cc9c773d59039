"""The load generator counts as starved only when waiting for a core cost it a material share of one."""

from verification_pipeline.health.sampler import MIN_WAIT_CORE_SHARE, _wait_share


def test_a_client_idle_on_slow_responses_is_not_starved_by_a_few_milliseconds_of_wait():
    # ran 1 ms, waited 2 ms over a second: a 67 % share of almost nothing
    assert _wait_share(0.002, 0.001, 1.0) == 0.0


def test_a_client_that_lost_a_material_share_of_a_core_is_starved():
    assert _wait_share(0.6, 0.4, 1.0) == 60.0
    assert _wait_share(MIN_WAIT_CORE_SHARE, 0.0, 1.0) == 100.0
