"""Simulator rows → contract-v1 wire messages."""

from __future__ import annotations

import json

import pandas as pd

from heliosgrid.contract import ReadingV1, decode_reading, encode_reading
from heliosgrid.physics import demo_fleet
from heliosgrid.simulation import simulate_fleet
from producer.messages import frame_to_messages


def _readings() -> pd.DataFrame:
    return simulate_fleet(demo_fleet(), "2026-06-01T04:00Z", "2026-06-01T10:00Z", seed=1, faults="random").readings


def test_messages_decode_and_equal_encode_reading_byte_for_byte() -> None:
    frame = _readings()
    messages = list(frame_to_messages(frame))
    assert len(messages) == len(frame)
    compared = 0
    for msg in messages:
        decoded = decode_reading(msg.value, msg.key, now=pd.Timestamp("2026-06-02T00:00Z").to_pydatetime())
        assert isinstance(decoded, ReadingV1), decoded
        assert msg.key == decoded.device_id.encode()
        assert msg.seq == decoded.seq and msg.ts == pd.Timestamp(decoded.ts)
        # cleaning turns small negative night offsets into 0: compare only untouched readings
        if all(v is None or v >= 0 for v in (decoded.poa_w_m2, decoded.ghi_w_m2)) and b":-" not in msg.value:
            assert encode_reading(decoded) == msg.value
            compared += 1
    assert compared > len(messages) // 2


def test_fractional_seconds_are_trimmed_as_the_contract_encoder_does() -> None:
    frame = _readings().head(3).copy()
    frame["ts"] = pd.to_datetime(["2026-06-01T10:00:00Z", "2026-06-01T10:00:00.250Z", "2026-06-01T10:00:00.000001Z"],
                                 format="ISO8601")
    texts = [json.loads(m.value)["ts"] for m in frame_to_messages(frame)]
    assert texts == ["2026-06-01T10:00:00Z", "2026-06-01T10:00:00.25Z", "2026-06-01T10:00:00.000001Z"]
    for msg in frame_to_messages(frame):
        decoded = decode_reading(msg.value, msg.key, now=pd.Timestamp("2026-06-02T00:00Z").to_pydatetime())
        assert isinstance(decoded, ReadingV1)
        assert json.loads(encode_reading(decoded))["ts"] == json.loads(msg.value)["ts"]


def test_empty_frame_gives_no_messages() -> None:
    assert list(frame_to_messages(_readings().head(0))) == []
