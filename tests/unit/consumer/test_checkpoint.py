"""The commit sequence: hook → dead letters flushed → offsets committed, never out of order."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaTimeoutError

from consumer.checkpoint import Checkpoint, DlqFailure, next_offsets
from heliosgrid.ingest.batch import RawMessage, reject_row


class _Log:
    """Records what the checkpoint asks of the producer / consumer, in order."""

    def __init__(self, fail_flush: bool = False, fail_commit: bool = False) -> None:
        self.events: list[tuple[str, Any]] = []
        self.fail_flush = fail_flush
        self.fail_commit = fail_commit

    def send(self, topic: str, value: Any = None, key: Any = None, headers: Any = None) -> None:
        self.events.append(("send", (topic, key, value, dict(headers)["reason_code"])))

    def flush(self, timeout: float | None = None) -> None:
        if self.fail_flush:
            raise KafkaTimeoutError("DLQ broker gone")
        self.events.append(("flush", None))

    def commit(self, offsets: Any = None) -> None:
        if self.fail_commit:
            raise CommitFailedError("rebalanced")
        self.events.append(("commit", {tp: o.offset for tp, o in offsets.items()}))


RECORDS = [RawMessage("t", p, o, b"k", b"{}") for p, o in [(0, 5), (1, 9), (0, 7), (0, 6), (1, 3)]]


def test_next_offsets_are_the_highest_offset_plus_one_per_partition() -> None:
    assert next_offsets(RECORDS) == {TopicPartition("t", 0): 8, TopicPartition("t", 1): 10}
    assert next_offsets([]) == {}


def test_the_hook_runs_before_the_dead_letters_which_are_flushed_before_the_offsets() -> None:
    log = _Log()
    hooked: list[int] = []
    cp = Checkpoint(log, "dlq", 65536, after_db_commit=lambda n: (hooked.append(n), log.events.append(("hook", n))))
    rejects = [reject_row(RECORDS[1], "malformed_json", "bad")]
    cp.make_durable(RECORDS, rejects)
    assert cp.commit_offsets(log, RECORDS)
    assert [e for e, _ in log.events] == ["hook", "send", "flush", "commit"]
    assert log.events[1][1] == ("dlq", b"k", b"{}", b"malformed_json")
    assert cp.committed == {TopicPartition("t", 0): 8, TopicPartition("t", 1): 10}
    assert hooked == [1]


def test_a_dead_letter_failure_raises_and_nothing_is_committed() -> None:
    log = _Log(fail_flush=True)
    cp = Checkpoint(log, "dlq", 65536)
    with pytest.raises(DlqFailure, match="offsets not committed"):
        cp.make_durable(RECORDS, [reject_row(RECORDS[0], "malformed_json", "bad")])
    assert "commit" not in [e for e, _ in log.events] and cp.committed == {}


def test_a_commit_refused_by_a_rebalance_is_reported_and_not_recorded() -> None:
    cp = Checkpoint(_Log(), "dlq", 65536)
    assert not cp.commit_offsets(_Log(fail_commit=True), RECORDS)
    assert cp.committed == {} and cp.last_commit_at is None
    cp.commit_offsets(_Log(), RECORDS)
    cp.forget([TopicPartition("t", 1)])
    assert cp.committed == {TopicPartition("t", 0): 8}


def test_idle_positions_past_trailing_markers_are_committed_only_forward_and_only_where_owned() -> None:
    """A transaction's closing marker yields no record: once idle, the position past it is committed (ADR 0630)."""
    log = _Log()
    cp = Checkpoint(log, "dlq", 65536)
    cp.commit_offsets(log, RECORDS)  # t/0 → 8, t/1 → 10
    log.events.clear()
    t0, t1, t2 = (TopicPartition("t", p) for p in range(3))
    cp.commit_positions(log, {t0: 9, t1: 10, t2: 4})  # t/0 passed a marker; t/1 no news; t/2 never committed here
    assert log.events == [("commit", {t0: 9})] and cp.committed == {t0: 9, t1: 10}
    cp.commit_positions(log, {t0: 7})  # never backwards
    assert len(log.events) == 1
    cp.commit_positions(_Log(fail_commit=True), {t0: 12})  # a rebalance refuses it: not recorded
    assert cp.committed[t0] == 9
