"""Golden bytes: replies captured from a real chronyd 4.3 (tests/golden/capture.py).

Client and fake share one codec, so a registry mistake would pass both ways;
these datagrams are chronyd's own. Each record reply is decoded by the client's
layouts and encoded again by the fake's encoder from the decoded values: the
bytes must be chronyd's, reserved words included. Every answer that does not
depend on chronyd's state (errors, refusals, silence) is compared byte for byte
with what :class:`ServerCore` answers to the very same request datagram.

Only chronyd 4.3 is installable here (Debian's package): the 4.4+ serverstats
and 4.6+ ntpdata layouts have no golden data yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pychrony import registry as reg
from pychrony.protocol import codec, wire
from pychrony.protocol.server import ServerCore
from pychrony.testing import SCENARIO_RTC_UNAVAILABLE

GOLDEN = json.loads((Path(__file__).parent / "golden" / "chronyd-4.3.json").read_text())
DATAGRAMS: list[dict[str, Any]] = GOLDEN["datagrams"]
_BY_NAME = {(d["name"], d["transport"]): d for d in DATAGRAMS}


def _reply(item: dict[str, Any]) -> bytes | None:
    return bytes.fromhex(item["reply"]) if item["reply"] is not None else None


def _records() -> list[dict[str, Any]]:
    records = []
    for item in DATAGRAMS:
        reply = _reply(item)
        if reply is None:
            continue
        key = wire.REPLY_KEY.unpack_from(reply)
        if key[5] == codec.Status.SUCCESS and key[4] not in (
            codec.RPY_NULL,
            codec.RPY_MANUAL_LIST2,
        ):
            records.append(item)
    return records


def test_the_capture_covers_every_report_and_the_count_and_names():
    codes = {wire.REPLY_KEY.unpack_from(_reply(i))[4] for i in _records()}  # type: ignore[arg-type]
    expected = {codec.profile("4.3").layouts[r.name].code for r in reg.REPORTS} - {
        reg.RTCDATA.latest.code  # the lab has no RTC: chronyd answers STT_NORTC
    }
    assert expected | {reg.COUNT_RESPONSE.code, reg.SOURCE_NAME_RESPONSE} <= codes


@pytest.mark.parametrize("item", _records(), ids=lambda i: f"{i['name']}-{i['transport']}")
def test_record_replies_decode_and_encode_back_to_chronyds_bytes(item):
    reply = _reply(item)
    assert reply is not None
    request = codec.decode_request(bytes.fromhex(item["request"]))
    assert request is not None
    key = wire.REPLY_KEY.unpack_from(reply)
    assert key[6] == request.sequence  # chronyd echoes the sequence
    code = key[4]
    if code == reg.COUNT_RESPONSE.code:
        (count,) = wire.COUNT_LAYOUT.decode(reply)
        assert codec.encode_count(request, count) == reply
        return
    if code == reg.SOURCE_NAME_RESPONSE:
        name = wire.decode_name(reply[reg.RESPONSE_HEADER_LEN :])
        assert name
        assert codec.encode_name(request, name) == reply
        return
    report = next(r for r in reg.REPORTS if r.record_request == request.command)
    layout = codec.check_reply(report.name, key, reply, wire.REPORT_LAYOUTS[report.name])
    assert layout is not None
    response = report.response(code)
    assert response is not None
    values = list(layout.decode(reply))
    # Reserved words zeroed: the encoder must fill them as chronyd does.
    for position, field in enumerate(response.fields):
        if field.attr is None:
            values[position] = 0
    assert codec.encode_record(request, response, values) == reply


#: Answers that do not depend on chronyd's state, by capture name.
STATE_FREE = [
    ("sources missing", "unix"),
    ("ntpdata missing", "unix"),
    ("sourcename missing", "unix"),
    ("rtcdata", "unix"),
    ("rtcdata udp", "udp"),
    ("tracking short", "unix"),
    ("tracking version 5", "unix"),
    ("tracking version 4", "unix"),
    ("unknown command", "unix"),
    ("null", "unix"),
    ("logon", "unix"),
    ("manual list", "unix"),
    ("selectdata 0 udp", "udp"),
    ("authdata udp", "udp"),
    ("ntpdata udp", "udp"),
    ("serverstats udp", "udp"),
    ("makestep udp", "udp"),
    ("burst udp", "udp"),
]


@pytest.mark.parametrize(("name", "transport"), STATE_FREE)
def test_the_fake_answers_as_chronyd_byte_for_byte(name, transport):
    item = _BY_NAME[name, transport]
    core = ServerCore(SCENARIO_RTC_UNAVAILABLE, version="4.3")
    answer = core.receive(bytes.fromhex(item["request"]), 0.0, trusted=transport == "unix")
    got = answer.datagram if answer is not None else None
    assert got == _reply(item)
