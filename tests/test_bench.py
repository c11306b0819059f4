"""The benchmark harness, run end to end with tiny durations: every target starts, answers the
generator's signed (and encrypted) requests without errors, and the report has every number an
operator reads. Speed is not asserted here; `make bench` measures it."""

from __future__ import annotations

import io
import json
import sys
import types

import pytest

from bench.harness import TARGETS, Context, Options, run, run_plugins

PER_TARGET = (
    "rps", "p50_ms", "p99_ms", "max_ms", "errors", "empty_answers", "peak_rss_mib", "server_cpu", "generator_cpu",
    "per_cpu_second", "half_load",
)


@pytest.mark.slow  # the whole benchmark, every target
def test_one_short_run_reports_every_target_and_measurement(tmp_path):
    out = io.StringIO()
    path = tmp_path / "bench.json"
    options = Options(
        seconds=1, half_seconds=1, connections=8, users=200, growth_users=(200, 600), fault_requests=10,
        extras=("memory", "growth", "faults", "scaleout"), json_path=path, keep=tmp_path / "logs", out=out,
    )
    printed = run(options)
    report = json.loads(path.read_text())
    assert report == json.loads(json.dumps(printed, ensure_ascii=False))

    assert set(report["targets"]) == set(TARGETS)
    for key, result in report["targets"].items():
        for name in PER_TARGET:
            assert name in result, (key, name)
        assert result["requests"] > 0 and result["errors"] == 0, (key, result)
        assert result["empty_answers"] == 0, (key, result)  # every answer carried a reply
    for key in ("d",):
        bot = report["targets"][key]
        assert bot["turns"] > 0
        assert bot["redis_commands_per_turn"] > 0 and bot["redis_round_trips_per_turn"] > 0
        assert "evalsha" in bot["redis_commands"]  # the turn's lock-and-load and commit scripts
        assert bot["redis_round_trips_per_turn"] <= 2  # issue #16: two round trips a turn (admit, commit)
    assert set(report["ratios"]) >= {"d/b", "d/a"}

    memory = report["targets"]["d"]["session_memory"]
    assert memory["sampled"] > 0 and memory["idle_session_bytes"] > 0
    assert json.loads(memory["example"])["dialog"] == "matters"  # the full turn ended on a guide card

    assert [s["users"] for s in report["growth"]["samples"]] == [200, 600]
    assert set(report["faults"]) == {"slow_6s", "down_503"}
    for fault in report["faults"].values():
        assert fault["errors"] == 0 and fault["within_4_5s"] == 1.0
    assert report["scaleout"]["two_processes_rps"] > 0 and report["scaleout"]["errors"] == 0
    assert set(report["checks"]) >= {"full_d_at_least_1.5x_b", "no_errors"}
    assert report["checks"]["no_errors"] is True

    text = out.getvalue()
    for line in ("(a) bare aiohttp", "(b) WeRoBot echo", "(d) ywtb-bot full turn", "ratios:", "platform slow_6s"):
        assert line in text


def test_a_feature_adds_its_measurement_with_a_measure_function(tmp_path, monkeypatch):
    """bench/notifications.py (or broadcast.py) defining measure(ctx) lands in the report."""
    module = types.ModuleType("bench.notifications")
    module.measure = lambda ctx: {"events_per_second": 123.0, "redis": ctx.redis_url}
    monkeypatch.setitem(sys.modules, "bench.notifications", module)
    ctx = Context(Options(out=io.StringIO()), tmp_path, "redis://127.0.0.1:1/0", 1, 1, 0)
    monkeypatch.setattr("bench.harness.PLUGINS", ("bench.notifications",))
    assert run_plugins(ctx) == {"notifications": {"events_per_second": 123.0, "redis": "redis://127.0.0.1:1/0"}}


@pytest.mark.slow  # the notification benchmark
def test_notification_fan_out_delivers_every_notice_exactly_once(tmp_path):
    """bench/notifications.py at a tiny size: signed events through the bot's stream and workers
    to the WeChat simulator, every (event, subscriber) notice once, and positive rates."""
    from bench.harness import start_redis
    from bench.notifications import measure
    from bench.procs import cores

    available = cores()
    redis_server = start_redis(tmp_path, available[0])
    out = io.StringIO()
    ctx = Context(Options(users=200, out=out), tmp_path, f"redis://127.0.0.1:{redis_server.port}/0", redis_server.port,
                  available[-1], available[0])
    try:
        result = measure(ctx, events=12, cases=4, subscribers=3, connections=8, timeout=30)
    finally:
        redis_server.stop()
    assert result["notices_expected"] == 36
    assert result["accepted"] == 12 and result["post_errors"] == 0
    assert result["delivered"] == 36 and result["duplicates"] == 0 and result["missing"] == 0 and result["unexpected"] == 0
    assert result["exactly_once"] is True and result["timed_out"] is False
    assert result["send_calls"] == 36 and result["stream_pending"] == 0
    for name in ("accepted_events_per_s", "events_per_s", "notices_per_s", "latency_p50_ms", "latency_p99_ms", "notices_per_cpu_second"):
        assert result[name] > 0, name
    assert "every notice delivered once     yes" in out.getvalue()
    assert json.loads(json.dumps(result)) == result  # lands in the report's JSON as it is
