"""The per-message metrics are kept without prometheus_client's locks (bot.metrics
`LoopHistogram`, `_PerMessage`): what /metrics reports must be what prometheus_client's own
Histogram would report for the same observations."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bot.metrics import REQUEST_BUCKETS, LoopHistogram

values = st.floats(min_value=0, max_value=50, allow_nan=False) | st.sampled_from([0.005, 0.01, 1.0, 10.0, 10.000001])


def _samples(text: str, prefix: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(prefix) and not line.startswith(prefix + "_created")}


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=30))
def test_buckets_count_and_sum_are_prometheus_clients(observations):
    registry = CollectorRegistry()
    reference = Histogram("h", "reference", buckets=REQUEST_BUCKETS, registry=registry)
    ours = LoopHistogram(REQUEST_BUCKETS)
    for value in observations:
        reference.observe(value)
        ours.observe(value)
    expected = _samples(generate_latest(registry).decode(), "h")
    got = {f'h_bucket{{le="{le}"}}': count for le, count in ours.buckets()}
    assert {k: v for k, v in expected.items() if k.startswith("h_bucket")} == got
    assert expected["h_count"] == ours.buckets()[-1][1]
    assert abs(expected["h_sum"] - ours.sum) < 1e-9
