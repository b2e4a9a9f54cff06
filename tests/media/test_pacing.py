"""The resend pacer's rules (``server.media.pacing``): a burst at most, then the measured rate; a
queued resend waits its turn however long; nothing goes out twice for one ask; no rate, no pacing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.media.pacing import MIN_RATE, PACING_FACTOR, RESEND_BURST, ResendPacer


def measured(packets_per_second: float) -> ResendPacer:
    pacer = ResendPacer()
    pacer.measure(0, 0.0)
    pacer.measure(int(packets_per_second), 1.0)
    return pacer


def test_before_any_window_is_measured_every_resend_goes_out_at_once() -> None:
    pacer = ResendPacer()
    pacer.measure(0, 0.0)  # one measurement is no window
    pacer.ask(range(40))
    assert pacer.take(1.0) == list(range(40))
    assert pacer.due() is None


def test_the_rate_is_the_factor_times_the_window_and_never_below_the_floor() -> None:
    assert measured(100).rate == PACING_FACTOR * 100
    assert measured(2).rate == MIN_RATE
    pacer = measured(100)
    pacer.measure(150, 1.1)  # a window too short to measure keeps the rate
    assert pacer.rate == PACING_FACTOR * 100


def test_a_large_nack_goes_out_as_a_burst_then_at_the_rate() -> None:
    pacer = measured(100)  # 250 resends a second
    pacer.ask(range(20))
    first = pacer.take(2.0)
    assert first == list(range(RESEND_BURST))
    pacer.spend(len(first))
    assert pacer.take(2.0) == []
    assert pacer.due() == 1 / 250
    later = pacer.take(2.0 + 2 / 250)
    assert later == [RESEND_BURST, RESEND_BURST + 1]  # two tokens earned, in the order asked


def test_a_resend_that_was_refused_costs_no_token() -> None:
    pacer = measured(100)
    pacer.ask(range(10))
    pacer.spend(len(pacer.take(2.0)) - 3)  # three of the four were refused (resent a moment ago)
    assert pacer.take(2.0) == [4, 5, 6]


def test_a_queued_resend_waits_its_turn_however_long_and_one_asked_again_keeps_its_place() -> None:
    pacer = measured(20)  # MIN_RATE: 50 a second
    pacer.ask(range(10))
    pacer.spend(len(pacer.take(2.0)))
    pacer.ask([9, 7, 3])  # asked again: two still wait, one (3) went out and waits again
    assert pacer.take(3.0) == [4, 5, 6, 7]  # a second on, in the order first asked
    assert list(pacer.queue) == [8, 9, 3]


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=0.05),
            st.lists(st.integers(min_value=0, max_value=60), max_size=30),
            st.integers(min_value=0, max_value=4),
        ),
        max_size=40,
    ),
    st.floats(min_value=10, max_value=400),
)
def test_resends_never_outrun_the_burst_and_the_rate_and_each_ask_goes_out_at_most_once(
    steps: list[tuple[float, list[int], int]], packets_per_second: float
) -> None:
    pacer = measured(packets_per_second)
    assert pacer.rate is not None
    now, asked, sent_at = 1.0, set[int](), list[float]()
    for step, lost, refused in steps:
        now += step
        pacer.ask(lost)
        asked.update(lost)
        due = pacer.take(now)
        assert len(set(due)) == len(due) and not set(due) - asked
        resent = max(0, len(due) - refused)
        pacer.spend(resent)
        sent_at += [now] * resent
        asked -= set(due)
        if sent_at:
            assert len(sent_at) <= RESEND_BURST + (now - sent_at[0]) * pacer.rate + 1e-9
