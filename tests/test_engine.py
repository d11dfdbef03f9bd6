"""The client engine's policy, in memory against the fake chronyd's core, in fake time.

Each test links a :class:`~pychrony.protocol.engine.Requests` (or a whole read
planned by :mod:`pychrony.protocol.planning`) to a
:class:`~pychrony.protocol.server.ServerCore` through ``engine_pair.Pair``: no
socket, no sleeping, and times asserted exactly. The socket-level cases (a full
kernel queue, a flood read by the driver, chronyd restarting, permissions) stay
in ``test_cmdmon.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque

import pytest
from engine_pair import START, Pair

from pychrony import _reader_py
from pychrony import registry as reg
from pychrony.exceptions import ChronyTimeoutError
from pychrony.protocol import planning, wire
from pychrony.protocol.codec import Request
from pychrony.protocol.engine import Job, Requests
from pychrony.testing import (
    SCENARIO_CHRONYD_HUNG,
    SCENARIO_MULTI_SOURCE,
    SCENARIO_NTP_SYNCED,
    ChronyStateConfig,
    Fault,
    SourceConfig,
)

TRACKING = reg.TRACKING
_PACK = planning.PLAIN_PACKS["tracking"]
SIXTY_FOUR = dataclasses.replace(
    SCENARIO_NTP_SYNCED,
    sources=[SourceConfig(address=f"192.0.2.{i + 1}", stratum=2) for i in range(64)],
)


def tracking(pair: Pair) -> Requests:
    return Requests.exchange(TRACKING.record_request, b"", _PACK, pair.policy, "tracking")


def stratum(reply: tuple[wire.ReplyKey, bytes]) -> int:
    key, datagram = reply
    layout = wire.check_reply("tracking", key, datagram, wire.REPORT_LAYOUTS["tracking"])
    assert layout is not None
    return int(layout.field_value(datagram, "stratum"))


def with_faults(*faults: Fault, base: ChronyStateConfig = SCENARIO_NTP_SYNCED) -> ChronyStateConfig:
    return dataclasses.replace(base, faults=faults)


# -- one exchange -------------------------------------------------------------------


def test_an_answered_exchange_takes_one_request_and_no_time():
    pair = Pair(SCENARIO_NTP_SYNCED)
    reply = pair.run(tracking(pair))
    assert stratum(reply) == SCENARIO_NTP_SYNCED.stratum
    assert pair.now == 0
    assert [(t, r.command, r.attempt) for t, r in pair.sent] == [(0, 33, 0)]
    assert reply[0][6] == pair.sent[0][1].sequence  # the sequence echoed


def test_a_lost_reply_is_asked_again_after_the_timeout_with_a_new_sequence():
    pair = Pair(SCENARIO_NTP_SYNCED, timeout=0.5)
    lost: list[int] = []
    pair.lose = lambda request: not lost and not lost.append(request.sequence)
    reply = pair.run(tracking(pair))
    assert [(t, r.attempt) for t, r in pair.sent] == [(0, 0), (0.5, 1)]
    assert pair.sent[1][1].sequence != lost[0]
    assert reply[0][6] == pair.sent[1][1].sequence
    assert pair.now == 0.5


def test_silent_chronyd_times_out_exactly_at_timeout_times_attempts():
    pair = Pair(SCENARIO_CHRONYD_HUNG, timeout=0.2, attempts=3)
    with pytest.raises(ChronyTimeoutError, match=r"did not answer.*0\.6 s.*3 attempts") as e:
        pair.run(tracking(pair))
    assert pair.now == pytest.approx(0.6)
    assert [r.attempt for _, r in pair.sent] == [0, 1, 2]
    assert [t for t, _ in pair.sent] == pytest.approx([0, 0.2, 0.4])
    assert len({r.sequence for _, r in pair.sent}) == 3  # a new sequence each time
    assert "stopped or overloaded" in str(e.value)  # cmdallow does not apply to sockets
    assert "cmdallow" not in str(e.value)


def test_a_late_reply_to_an_earlier_attempt_counts():
    pair = Pair(with_faults(Fault.late(0.15)), timeout=0.1, attempts=3)
    reply = pair.run(tracking(pair))
    first, second = (r for _, r in pair.sent)
    assert (first.attempt, second.attempt) == (0, 1)
    assert reply[0][6] == first.sequence  # the first attempt's answer, during the second
    assert pair.now == pytest.approx(0.15)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d[:16] + bytes([d[16] ^ 0xFF]) + d[17:],  # another sequence
        lambda d: d[:5] + bytes([d[5] ^ 1]) + d[6:],  # another command
        lambda d: d[:1] + b"\x01" + d[2:],  # a request, not a reply
        lambda d: d[:20],  # shorter than a header
        lambda d: d + bytes(4096),  # longer than any reply
        lambda d: b"",
    ],
    ids=["sequence", "command", "not-a-reply", "truncated", "oversized", "empty"],
)
def test_wrong_datagrams_are_ignored_and_the_right_one_taken(spoil):
    pair = Pair(SCENARIO_NTP_SYNCED)
    pair.strays = lambda reply: [spoil(reply)] * 3
    reply = pair.run(tracking(pair))
    assert stratum(reply) == SCENARIO_NTP_SYNCED.stratum
    assert len(pair.sent) == 1  # no resend was needed
    assert pair.now == 0


def test_garbage_from_chronyd_is_never_taken_for_a_reply():
    pair = Pair(with_faults(Fault.garbage()), timeout=0.25, attempts=2)
    with pytest.raises(ChronyTimeoutError):
        pair.run(tracking(pair))
    assert pair.now == 0.5


def test_sequences_come_from_the_injected_random_and_never_repeat_in_a_run():
    draws = itertools.chain([7, 7, 7, 9], itertools.count(100))
    pair = Pair(SCENARIO_CHRONYD_HUNG, timeout=1, attempts=3, random=lambda bits: next(draws))
    with pytest.raises(ChronyTimeoutError):
        pair.run(tracking(pair))
    assert [r.sequence for _, r in pair.sent] == [7, 9, 100]


def test_a_request_that_never_left_a_full_queue_counts_as_an_attempt():
    pair = Pair(SCENARIO_NTP_SYNCED, timeout=0.2, attempts=3)
    pair.full_until = START + 0.3  # the first attempt's whole wait, and then some
    reply = pair.run(tracking(pair))
    # Attempt 0 expired unsent and was replaced; attempt 1 left when the queue drained.
    assert [(t, r.attempt) for t, r in pair.sent] == [(pytest.approx(0.3), 1)]
    assert reply[0][6] == pair.sent[0][1].sequence


def test_a_queue_that_stays_full_times_out_within_the_bound():
    pair = Pair(SCENARIO_NTP_SYNCED, timeout=0.2, attempts=2)
    pair.full_until = float("inf")
    with pytest.raises(ChronyTimeoutError):
        pair.run(tracking(pair))
    assert pair.now == pytest.approx(0.4)
    assert pair.sent == []


# -- the pipelined window -----------------------------------------------------------


def _sources_run(pair: Pair, count: int, got: dict[int, bytes]) -> Requests:
    pack = planning.INDEX_PACKS["sources"]
    command = reg.SOURCES.record_request
    jobs = [Job(0, i, command, planning.index_data(i), pack) for i in range(count - 1, -1, -1)]

    def handle(job: Job, key: wire.ReplyKey, datagram: bytes) -> None:
        assert job.index not in got
        got[job.index] = datagram

    return Requests(deque(jobs), handle, pair.policy, "sources")


def test_the_window_bounds_requests_in_flight():
    pair = Pair(SIXTY_FOUR, window=8)
    got: dict[int, bytes] = {}
    pair.run(_sources_run(pair, 64, got))
    assert sorted(got) == list(range(64))
    assert pair.peak == 8
    assert len(pair.sent) == 64
    assert pair.now == 0


@pytest.mark.parametrize("k", [3, 5, 7])
def test_every_kth_reply_dropped_is_resent_and_every_record_arrives(k):
    pair = Pair(with_faults(Fault.drop_every(k), base=SIXTY_FOUR), timeout=0.1, attempts=5)
    got: dict[int, bytes] = {}
    run = _sources_run(pair, 64, got)
    pair.run(run)
    assert sorted(got) == list(range(64))
    assert run.resent
    assert pair.peak <= 8
    # Each lost request is sent again exactly one timeout after its previous attempt.
    sent_at = {(r.record_index, r.attempt): t for t, r in pair.sent}
    resends = [(i, a) for i, a in sent_at if a > 0]
    assert resends
    for index, attempt in resends:
        assert sent_at[index, attempt] - sent_at[index, attempt - 1] == pytest.approx(0.1)


def test_a_silent_chronyd_bounds_a_pipelined_read_by_each_requests_bound():
    pair = Pair(SCENARIO_CHRONYD_HUNG, timeout=0.2, attempts=2)
    with pytest.raises(ChronyTimeoutError):
        pair.run(_sources_run(pair, 40, {}))
    assert pair.now == pytest.approx(0.4)
    assert len(pair.sent) == 16  # the first window, then its one resend


def test_a_late_reply_to_a_resent_request_is_not_handled_twice():
    pair = Pair(with_faults(Fault.late(0.15), base=SIXTY_FOUR), timeout=0.1, attempts=3)
    got: dict[int, bytes] = {}
    pair.run(_sources_run(pair, 16, got))  # handle() asserts each index once
    assert sorted(got) == list(range(16))


# -- whole reads planned by protocol.planning, in memory ----------------------------


def test_a_whole_sources_read_runs_in_memory_with_names():
    pair = Pair(SCENARIO_MULTI_SOURCE)
    session = pair.session()
    try:
        pair.drive(session.load_steps(reg.SOURCES))
        sources = _reader_py.read_report(session, reg.SOURCES)  # from memory now
    finally:
        session.close()
    configs = SCENARIO_MULTI_SOURCE.sources
    assert [s.address for s in sources] == [c.address for c in configs]
    assert [s.name for s in sources] == [
        None if c.mode.name == "REFCLOCK" else (c.name or c.address) for c in configs
    ]
    assert pair.now == 0


def test_a_pipelined_read_losing_a_record_once_resends_it_within_one_timeout():
    pair = Pair(SIXTY_FOUR, timeout=0.3)
    lost: list[int] = []

    def lose(request: Request) -> bool:
        tenth = request.command == reg.SOURCES.record_request and request.record_index == 10
        if tenth and not lost:
            lost.append(request.attempt)
            return True
        return False

    pair.lose = lose
    session = pair.session()
    session.names.answers = False  # records only
    try:
        pair.drive(session.load_steps(reg.SOURCES))
        got = _reader_py.read_report(session, reg.SOURCES)
    finally:
        session.close()
    assert [s.address for s in got] == [f"192.0.2.{i + 1}" for i in range(64)]
    tenth = [r.attempt for _, r in pair.sent if r.command == 15 and r.record_index == 10]
    assert tenth == [0, 1]
    assert pair.now == pytest.approx(0.3)
    assert pair.peak <= 8
