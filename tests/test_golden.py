"""Golden bytes: replies captured from real chronyd 4.3 and 4.6 (tests/golden/capture.py).

Client and fake share one codec, so a registry mistake would pass both ways;
these datagrams are chronyd's own, one file per release (chronyd-4.3.json from
Debian bookworm's package, chronyd-4.6.json from trixie's, fetched by
tests/golden/fetch_chronyd.py). Each record reply is decoded by the client's
layouts and encoded again by the fake's encoder from the decoded values: the
bytes must be chronyd's, reserved words included. Every answer that does not
depend on chronyd's state (errors, refusals, silence, the sweep of every command
over UDP) is compared byte for byte with what :class:`ServerCore` playing that
version answers to the very same request datagram.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pychrony import _clients
from pychrony import registry as reg
from pychrony.protocol import codec, wire
from pychrony.protocol.server import ServerCore
from pychrony.testing import SCENARIO_RTC_UNAVAILABLE

GOLDEN_DIR = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN_DIR.glob("chronyd-*.json"))


def _load(path: Path) -> tuple[str, list[dict[str, Any]]]:
    golden = json.loads(path.read_text())
    version = ".".join(golden["chronyd"].split(".")[:2])  # 4.6.1 plays as 4.6
    for item in golden["datagrams"]:
        item["version"] = version
    return version, golden["datagrams"]


CAPTURES = dict(_load(path) for path in FILES)
DATAGRAMS = [item for items in CAPTURES.values() for item in items]


def _reply(item: dict[str, Any]) -> bytes | None:
    return bytes.fromhex(item["reply"]) if item["reply"] is not None else None


def _code(item: dict[str, Any]) -> int | None:
    reply = _reply(item)
    return None if reply is None else wire.REPLY_KEY.unpack_from(reply)[4]


def _is_record(item: dict[str, Any]) -> bool:
    reply = _reply(item)
    if reply is None:
        return False
    key = wire.REPLY_KEY.unpack_from(reply)
    return key[5] == codec.Status.SUCCESS and key[4] not in (
        codec.RPY_NULL,
        codec.RPY_MANUAL_LIST2,
    )


def _id(item: dict[str, Any]) -> str:
    return f"{item['version']}-{item['name']}-{item['transport']}"


RECORDS = [i for i in DATAGRAMS if _is_record(i) and i["name"] != "clients"]
STATE_FREE = [i for i in DATAGRAMS if not _is_record(i)]
CLIENT_PAGES = [i for i in DATAGRAMS if i["name"] == "clients"]


def test_both_releases_are_captured():
    assert {"4.3", "4.6"} <= set(CAPTURES)


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_the_capture_covers_every_report_layout_of_its_version(version):
    codes = {_code(i) for i in CAPTURES[version] if _is_record(i)}
    expected = {codec.profile(version).layouts[r.name].code for r in reg.ALL_REPORTS} - {
        reg.RTCDATA.latest.code  # the lab has no RTC: chronyd answers STT_NORTC
    }
    assert expected | {reg.COUNT_RESPONSE.code, reg.SOURCE_NAME_RESPONSE} <= codes


def test_the_46_capture_has_the_layouts_43_cannot_send():
    # 4.4's RPY_SERVER_STATS4 (196 bytes) and 4.6's RPY_NTP_DATA2 (172 bytes).
    newer = {r.code: r.length for r in (reg.SERVERSTATS.latest, reg.NTPDATA.latest)}
    seen = {_code(i): len(_reply(i) or b"") for i in CAPTURES["4.6"] if _is_record(i)}
    assert newer.items() <= seen.items()
    assert not newer.keys() & {_code(i) for i in CAPTURES["4.3"]}


@pytest.mark.parametrize("item", RECORDS, ids=_id)
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
    # The layout chronyd sent is the one the fake sends playing that version.
    assert response is codec.profile(item["version"]).layouts[report.name]
    values = list(layout.decode(reply))
    # Reserved words zeroed: the encoder must fill them as chronyd does.
    for position, field in enumerate(response.fields):
        if field.attr is None:
            values[position] = 0
    assert codec.encode_record(request, response, values) == reply


@pytest.mark.parametrize("item", CLIENT_PAGES, ids=_id)
def test_a_client_log_page_decodes_and_encodes_back_to_chronyds_records(item):
    reply = _reply(item)
    assert reply is not None
    assert len(reply) == _clients.PAGE_LENGTH
    request = codec.decode_request(bytes.fromhex(item["request"]))
    assert request is not None
    head = reply[: reg.RESPONSE_HEADER_LEN]
    indices, following, count = _clients.PAGE_HEADER.unpack_from(reply, reg.RESPONSE_HEADER_LEN)
    start = reg.RESPONSE_HEADER_LEN + _clients.PAGE_HEADER.size
    bodies = [
        reply[start + i * _clients.RECORD_SIZE : start + (i + 1) * _clients.RECORD_SIZE]
        for i in range(count)
    ]
    records = [_clients.RECORD_LAYOUT.decode(head + body) for body in bodies]
    assert count >= 1  # the capture's own UDP requests came from 127.0.0.1
    assert "127.0.0.1" in {r[_clients.RECORD_LAYOUT.index["address"]] for r in records}
    ours = codec.encode_clients(request, records)
    # Header and every record slot byte for byte. The page header's first two words
    # differ by design: chronyd gives its hash table's size (16 slots here) as the
    # number of indices and the next index after scanning it, the fake the number
    # of records; a client only pages on until next >= indices, so both end there.
    assert ours[: reg.RESPONSE_HEADER_LEN] == head
    assert ours[start:] == reply[start:]
    assert _clients.PAGE_HEADER.unpack_from(ours, reg.RESPONSE_HEADER_LEN)[2] == count
    assert following >= indices


@pytest.mark.parametrize("item", STATE_FREE, ids=_id)
def test_the_fake_answers_as_chronyd_byte_for_byte(item):
    core = ServerCore(SCENARIO_RTC_UNAVAILABLE, version=item["version"])
    trusted = item["transport"] == "unix"
    answer = core.receive(bytes.fromhex(item["request"]), 0.0, trusted=trusted)
    got = answer.datagram if answer is not None else None
    assert got == _reply(item)


def test_the_state_free_answers_include_every_kind():
    # Errors by status (and silence) that the sweep and the malformed requests cover.
    statuses = {
        wire.REPLY_KEY.unpack_from(r)[5] if (r := _reply(i)) is not None else None
        for i in STATE_FREE
    }
    assert {
        None,
        codec.Status.SUCCESS,  # null, manual list
        codec.Status.UNAUTHORISED,
        codec.Status.INVALID,
        codec.Status.NO_SUCH_SOURCE,
        codec.Status.NO_RTC,
        codec.Status.BAD_PACKET_LENGTH,
        codec.Status.BAD_PACKET_VERSION,
    } <= statuses
