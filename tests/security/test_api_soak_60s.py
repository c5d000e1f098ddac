"""The soak of issue 11 in 60 s (``bench/soak.py``; the 10-minute run is ``heliosgrid bench soak``):
mixed traffic with a bad message every second, two consumer SIGKILLs, one PostgreSQL restart
and 20 stream clients — nothing lost or duplicated, every bad message quarantined exactly once,
every stream client up to date at the end."""

from __future__ import annotations

import pytest

from bench.soak import run

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_soak_60_s_loses_nothing_and_no_stream_stalls() -> None:
    result = run(duration_s=60, kill_every_s=20, clients=20, burst_every_s=20, final_wait_s=60)
    assert result["good_messages"] > 2000 and result["bad_messages"] >= 55
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0 and result["unexpected_rows"] == 0, result
    assert result["quarantined_exactly_once"] is True, result
    assert result["dead_lettered"] >= result["bad_messages"], result
    assert result["stalled_streams"] == 0, result
    assert result["consumer_kills"] >= 2 and result["db_restarts"] == 1, result
    assert result["consumer_unexpected_exits"] == [] and result["consumer_final_exit_code"] == 0, result
