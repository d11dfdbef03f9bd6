"""chrony's wire format: packets, value encodings and every reply layout (no chronyd).

Expected sizes and offsets are written out from chrony's ``candm.h`` by hand, so
the registry and the codec are checked against the protocol, not against
themselves.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import struct
from fractions import Fraction
from typing import Any

import pytest
from cmdmon_fake import record_values
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pychrony import _reader_py
from pychrony import registry as reg
from pychrony.exceptions import (
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyPermissionError,
)
from pychrony.models import SourceMode
from pychrony.protocol import wire as _wire
from pychrony.protocol.record import Record
from pychrony.registry import REPORTS, REPORTS_BY_NAME, Field, Response, Wire

# -- packet headers (candm.h CMD_Request / CMD_Reply) ------------------------------


def test_request_header_layout():
    packet = _wire.encode_request(0x1234, 0xDEADBEEF, 2, b"\x00\x00\x00\x07", 24)
    assert len(packet) == 24
    assert packet[0] == 6  # version
    assert packet[1] == 1  # PKT_TYPE_CMD_REQUEST
    assert packet[2:4] == b"\0\0"  # res1, res2
    assert packet[4:6] == b"\x12\x34"  # command
    assert packet[6:8] == b"\x00\x02"  # attempt
    assert packet[8:12] == b"\xde\xad\xbe\xef"  # sequence
    assert packet[12:20] == bytes(8)  # pad1, pad2
    assert packet[20:24] == b"\0\0\0\x07"  # data


def test_reply_header_layout():
    reply = _wire.encode_error_reply(0x0021, 0xCAFEF00D, 13)
    assert len(reply) == 28
    assert reply[0:2] == b"\x06\x02"  # version, PKT_TYPE_CMD_REPLY
    assert reply[4:6] == b"\x00\x21"  # command
    assert reply[6:8] == b"\x00\x01"  # reply code RPY_NULL
    assert reply[8:10] == b"\x00\x0d"  # status
    assert reply[10:16] == bytes(6)  # pad1..pad3
    assert reply[16:20] == b"\xca\xfe\xf0\x0d"  # sequence
    header = _wire.parse_reply_header(reply)
    assert header is not None
    assert (header.version, header.command, header.code, header.status, header.sequence) == (
        6,
        0x21,
        1,
        13,
        0xCAFEF00D,
    )


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        bytes(27),  # shorter than a header
        _wire.encode_request(33, 1, 0, b"", 104),  # a request, not a reply
        b"\x06\x02\x01" + bytes(25),  # reserved byte set
    ],
)
def test_non_replies_are_ignored(datagram):
    assert _wire.parse_reply_header(datagram) is None


# Reply lengths (28-byte header + RPY_* data) added up by hand from candm.h.
REPLY_LENGTHS = {
    ("tracking", 5): 28 + 4 + 20 + 2 + 2 + 12 + 9 * 4,
    ("sources", 3): 28 + 20 + 6 * 2 + 4 + 3 * 4,
    ("sourcestats", 6): 28 + 4 + 20 + 3 * 4 + 5 * 4,
    ("selectdata", 23): 28 + 4 + 20 + 4 * 1 + 2 * 2 + 4 + 3 * 4,
    ("ntpdata", 16): 28 + 2 * 20 + 2 + 6 * 1 + 3 * 4 + 12 + 5 * 4 + 2 + 2 + 4 * 4 + 3 * 4,
    ("ntpdata", 26): 28 + 2 * 20 + 2 + 6 * 1 + 3 * 4 + 12 + 5 * 4 + 2 + 2 + 8 * 4 + 4 * 4,
    ("serverstats", 14): 28 + 5 * 4,
    ("serverstats", 22): 28 + 8 * 4,
    ("serverstats", 24): 28 + 11 * 4,
    ("serverstats", 25): 28 + 21 * 8,
    ("activity", 12): 28 + 5 * 4,
    ("authdata", 20): 28 + 3 * 4 + 6 * 2,
    ("rtcdata", 7): 28 + 12 + 2 * 2 + 3 * 4,
    ("smoothing", 13): 28 + 6 * 4,
    # one record of RPY_ClientAccesses_Client (a reply holds 8 of them: pychrony._clients)
    ("clients", 21): 28 + 20 + 6 * 4 + 4 + 3 * 4,
}

# Request lengths: header + data, padded to the longest reply (pktlength.c).
REQUEST_LENGTHS = {
    "tracking": 104,
    "sources": 76,
    "sourcestats": 84,
    "selectdata": 76,
    "ntpdata": 172,
    "serverstats": 196,
    "activity": 48,
    "authdata": 52,
    "rtcdata": 56,
    "smoothing": 52,
}


def test_every_layout_has_candm_length():
    assert {key: layout.length for key, layout in _wire.LAYOUTS.items()} == REPLY_LENGTHS
    assert _wire.COUNT_LAYOUT.length == 28 + 4
    assert _wire.NAME_REQUEST_LENGTH == 28 + 256


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.name)
def test_request_is_padded_to_longest_reply(report):
    length = _wire.request_length(report)
    assert length == REQUEST_LENGTHS[report.name]
    assert length >= max(r.length for r in report.responses)
    data = {reg.RecordArg.NONE: b"", reg.RecordArg.INDEX: bytes(4)}.get(report.record_arg)
    packet = _wire.encode_request(report.record_request, 1, 0, data or bytes(20), length)
    assert len(packet) == length
    assert packet.endswith(bytes(length - 20 - len(data or bytes(20))))


def test_field_offsets_follow_candm():
    # A few offsets into the reply, from candm.h's structures.
    tracking = _wire.LAYOUTS["tracking", 5].offsets
    assert tracking["reference ID"] == 28
    assert tracking["address"] == 32
    assert tracking["reference time"] == 56
    assert tracking["last update interval"] == 100
    assert _wire.LAYOUTS["sourcestats", 6].offsets["address"] == 32
    ntpdata = _wire.LAYOUTS["ntpdata", 26].offsets
    assert ntpdata["remote port"] == 68
    assert ntpdata["reference time"] == 88
    assert ntpdata["flags"] == 120
    assert ntpdata["hardware receive timestamps"] == 152


# -- chrony's 32-bit float -----------------------------------------------------


def reference_float(raw: int) -> Fraction:
    """candm.h: 7-bit signed exponent, 25-bit signed coefficient, 2**(exp - 25) * coef."""
    exp, coef = raw >> 25, raw & (2**25 - 1)
    exp = exp - 128 if exp >= 64 else exp
    coef = coef - 2**25 if coef >= 2**24 else coef
    return Fraction(coef) * Fraction(2) ** (exp - 25)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (0x00000000, 0.0),
        (0x04800000, 1.0),  # exp 2, coef 2**23
        ((2 << 25) | 0x1800000, -1.0),  # exp 2, coef -2**23
        (0x01000000, -0.5),  # exp 0, coef -2**24
        (0x00000001, 2.0**-25),
        (0x7E000000 | 0x0FFFFFF, (2**24 - 1) * 2.0**38),  # largest
        (0x7E000000 | 0x1000000, -(2**24) * 2.0**38),  # most negative
        (0x80000001, 2.0**-89),  # exp -64, coef 1: smallest
        (0xFFFFFFFF, -(2.0**-26)),  # exp -1, coef -1
    ],
)
def test_float_known_values(raw, value):
    assert _wire.decode_float(raw) == value
    assert Fraction(value) == reference_float(raw)


@given(st.integers(0, 2**32 - 1))
def test_float_decoding_is_exact(raw):
    value = _wire.decode_float(raw)
    assert math.isfinite(value)
    assert Fraction(value) == reference_float(raw)


@given(st.floats(min_value=-1e18, max_value=1e18, allow_nan=False).filter(lambda x: abs(x) > 1e-19))
@example(1.0)
@example(-58.220287323)
@example(1e-9)
@example(0.999999999)
def test_float_round_trip_keeps_24_bits(value):
    decoded = _wire.decode_float(_wire.encode_float(value))
    assert abs(decoded - value) <= abs(value) * 2.0**-24


@given(st.integers(0, 2**32 - 1))
def test_float_encoding_of_decoded_is_identity(raw):
    value = _wire.decode_float(raw)
    assert _wire.decode_float(_wire.encode_float(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), 0.0),
        (0.0, 0.0),
        (-0.0, 0.0),
        (1e300, (2**24 - 1) * 2.0**38),
        (float("inf"), (2**24 - 1) * 2.0**38),
        (float("-inf"), -(2**24) * 2.0**38),
        (1e-300, 0.0),
    ],
)
def test_float_encoding_saturates(value, expected):
    assert _wire.decode_float(_wire.encode_float(value)) == expected


# -- timespecs, addresses, names ---------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ((0, 1_700_000_000, 123_456_789), (1_700_000_000, 123_456_789)),
        ((1, 5, 0), (2**32 + 5, 0)),  # 64-bit time_t
        ((0x7FFFFFFF, 1_700_000_000, 1), (1_700_000_000, 1)),  # TV_NOHIGHSEC: 32-bit chronyd
        ((0, 0, 999_999_999), (0, 999_999_999)),
    ],
)
def test_timespec(words, expected):
    assert _wire.decode_timespec(*words) == expected
    if words[0] != 0x7FFFFFFF:
        assert _wire.encode_timespec(*expected) == words


@pytest.mark.parametrize(
    ("raw", "family", "text"),
    [
        (bytes(16), 0, None),
        (b"\x7f\x00\x00\x01" + bytes(12), 1, "127.0.0.1"),
        (b"\xc0\x00\x02\x01" + b"garbage-ignored!"[:12], 1, "192.0.2.1"),
        (bytes(15) + b"\x01", 2, "::1"),
        (bytes.fromhex("20010db8000000000000000000000042"), 2, "2001:db8::42"),
        (b"\x00\x00\x00\x07" + bytes(12), 3, "ID#0000000007"),
        (b"\xff\xff\xff\xff" + bytes(12), 3, "ID#4294967295"),
    ],
)
def test_address_families(raw, family, text):
    assert _wire.decode_address(raw, family) == text
    if text is not None:
        encoded = _wire.encode_address(text)
        assert encoded[16:18] == family.to_bytes(2, "big")
        assert _wire.decode_address(encoded[:16], family) == text


@pytest.mark.parametrize("family", [4, 0x100, 0xFFFF])
def test_unknown_address_family_is_a_data_error(family):
    with pytest.raises(ChronyDataError, match=f"family {family}"):
        _wire.decode_address(bytes(16), family)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"ntp.example.org" + bytes(241), "ntp.example.org"),
        (bytes(256), None),
        (b"a" * 256, "a" * 256),  # chronyd fills all 256 bytes without a NUL
        (b"bad\xff\xfename\0junk", "bad\ufffd\ufffdname"),
    ],
)
def test_names(raw, name):
    assert _wire.decode_name(raw) == name


# -- every reply layout round-trips --------------------------------------------------


def _ntop(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    # chronyc and libchrony print with inet_ntop (e.g. "::ffff:1.2.3.4"), not str().
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return socket.inet_ntop(family, address.packed)


def _value(field: Field) -> st.SearchStrategy[Any]:
    wire = field.wire
    if wire is Wire.FLOAT:
        return st.integers(0, 2**32 - 1).map(_wire.decode_float)
    if wire is Wire.TIMESPEC:
        # (high word 0x7fffffff means "no high word": see test_timespec)
        return st.tuples(st.integers(0, 2**62), st.integers(0, 2**32 - 1))
    if wire in (Wire.ADDRESS, Wire.ADDRESS_OR_REFID):
        return st.one_of(
            st.none(),
            st.ip_addresses().map(_ntop),
            st.integers(0, 2**32 - 1).map(lambda i: f"ID#{i:010d}"),
        )
    size = wire.size * 8
    if wire in (Wire.INT16, Wire.INT8):
        return st.integers(-(2 ** (size - 1)), 2 ** (size - 1) - 1)
    return st.integers(0, 2**size - 1)


def _record(response: Response) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.tuples(*(_value(f) for f in response.fields))


RESPONSES = [(r, resp) for r in REPORTS for resp in r.responses]


@pytest.mark.parametrize(
    ("report", "response"), RESPONSES, ids=[f"{r.name}-{x.code}" for r, x in RESPONSES]
)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_layout_round_trips(report, response, data):
    values = list(data.draw(_record(response)))
    mode = next((i for i, f in enumerate(response.fields) if f.enum is SourceMode), None)
    if mode is not None and values[mode] == SourceMode.REFCLOCK.value:
        values[0] = data.draw(st.integers(0, 2**32 - 1))  # the slot holds a reference ID
    sequence = data.draw(st.integers(0, 2**32 - 1))
    reply = _wire.encode_reply(response, values, command=report.record_request, sequence=sequence)
    header = _wire.parse_reply_header(reply)
    assert header is not None
    assert header.sequence == sequence
    decoded = _wire.decode_reply(report.name, header, reply, _wire.REPORT_LAYOUTS[report.name])
    assert decoded is not None
    layout, got = decoded
    assert layout.code == response.code
    assert list(got) == values


def test_sources_refclock_slot_holds_reference_id():
    response = REPORTS_BY_NAME["sources"].latest
    values = [0x47505300, 4, 0, 1, SourceMode.REFCLOCK.value, 0, 0, 2**32 - 1, 0.0, 0.0, 0.0]
    reply = _wire.encode_reply(response, values, command=15, sequence=1)
    assert reply[44:46] == b"\x00\x01"  # sent as an IPv4 address, as chronyd does
    layout = _wire.LAYOUTS["sources", 3]
    assert layout.decode(reply)[0] == 0x47505300
    values[4] = SourceMode.CLIENT.value
    reply = _wire.encode_reply(response, values, command=15, sequence=1)
    assert layout.decode(reply)[0] == "71.80.83.0"


# -- status codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "match"),
    [
        (2, ChronyPermissionError, "not authorised.*Unix socket.*opencommands"),
        (3, ChronyDataError, "too old.*does not know this request.*4.0 or newer"),
        (6, ChronyDisabledError, "disabled"),
        (13, ChronyDisabledError, "no RTC"),
        (18, ChronyDataError, "newer than pychrony.*protocol version"),
        (19, ChronyDataError, "newer than pychrony.*longer requests"),
        (1, ChronyDataError, "unexpected chronyd status 1"),
        (21, ChronyDataError, "unexpected chronyd status 21"),
    ],
)
def test_status_codes(status, error, match):
    reply = _wire.encode_error_reply(69, 5, status)
    header = _wire.parse_reply_header(reply)
    assert header is not None
    with pytest.raises(error, match=match) as info:
        _wire.decode_reply("selectdata", header, reply, _wire.REPORT_LAYOUTS["selectdata"])
    assert "selectdata" in str(info.value)
    if error is not ChronyDisabledError:
        assert type(info.value) is error


def test_no_such_source_is_no_record():
    reply = _wire.encode_error_reply(15, 5, 4)
    header = _wire.parse_reply_header(reply)
    assert header is not None
    assert _wire.decode_reply("sources", header, reply, _wire.REPORT_LAYOUTS["sources"]) is None


def test_other_protocol_version_is_a_data_error():
    reply = bytearray(_wire.encode_error_reply(33, 5, 18))
    reply[0] = 7
    header = _wire.parse_reply_header(bytes(reply))
    assert header is not None
    with pytest.raises(ChronyDataError, match="version 7.*too new"):
        _wire.decode_reply("tracking", header, bytes(reply), _wire.REPORT_LAYOUTS["tracking"])


def test_unknown_reply_code_fails_that_report_as_too_new():
    reply = bytearray(_valid_reply(REPORTS_BY_NAME["tracking"], layout_response("tracking")))
    struct.pack_into(">H", reply, 6, 99)  # a reply code this pychrony does not know
    reply = bytes(reply)
    header = _wire.parse_reply_header(reply)
    assert header is not None
    with pytest.raises(ChronyDataError, match="tracking: chronyd is newer.*layout 99"):
        _wire.decode_reply("tracking", header, reply, _wire.REPORT_LAYOUTS["tracking"])


@pytest.mark.parametrize("delta", [-1, 1, -4, 100])
def test_wrong_length_is_a_data_error(delta):
    layout = _wire.LAYOUTS["activity", 12]
    reply = _wire.encode_reply(layout_response("activity"), [1] * 5, command=44, sequence=1)
    reply = reply[: len(reply) + delta] if delta < 0 else reply + bytes(delta)
    header = _wire.parse_reply_header(reply)
    assert header is not None
    with pytest.raises(ChronyDataError, match="activity: reply 12 of .* bytes, expected 48"):
        _wire.decode_reply("activity", header, reply, {12: layout})


def layout_response(name: str) -> Response:
    return REPORTS_BY_NAME[name].latest


# -- fuzzing: random and mutated replies give pychrony's errors only -----------------


class RecordSession(Record):
    """One checked reply as a session: CmdmonSession's own record view and getters."""

    __slots__ = ()

    def record_count(self, report: reg.Report) -> int:
        return 1

    def request_record(self, report: reg.Report, index: int) -> bool:
        return True

    def close(self) -> None:
        pass


def _valid_reply(report: reg.Report, response: Response) -> bytes:
    values = record_values(report, response, 1)
    return _wire.encode_reply(response, values, command=report.record_request, sequence=9)


@st.composite
def replies(draw: st.DrawFn) -> tuple[reg.Report, bytes]:
    report, response = draw(st.sampled_from(RESPONSES))
    reply = bytearray(_valid_reply(report, response))
    if draw(st.booleans()):  # a reply header with random data
        return report, bytes(reply[:28]) + draw(st.binary(max_size=300))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "byte", "cut", "grow", "header"]))
        if kind == "flip" and reply:
            position = draw(st.integers(0, len(reply) - 1))
            reply[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and reply:
            reply[draw(st.integers(0, len(reply) - 1))] = draw(st.integers(0, 255))
        elif kind == "cut":
            del reply[draw(st.integers(0, len(reply))) :]
        elif kind == "grow":
            reply += draw(st.binary(min_size=1, max_size=40))
        elif kind == "header" and len(reply) >= 10:
            # A plausible header: another status or reply code.
            struct.pack_into(">HH", reply, 6, draw(st.integers(0, 30)), draw(st.integers(0, 25)))
    return report, bytes(reply)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(replies())
def test_fuzzed_replies_raise_only_pychrony_errors(case):
    report, datagram = case
    header = _wire.parse_reply_header(datagram)
    assume(header is not None)
    assert header is not None
    try:
        decoded = _wire.decode_reply(
            report.name, header, datagram, _wire.REPORT_LAYOUTS[report.name]
        )
        if decoded is not None:
            layout, _ = decoded
            _reader_py.read_one(RecordSession(layout, datagram, "192.0.2.1"), report)
    except ChronyError:
        pass


@pytest.mark.parametrize(
    ("address", "mode"),
    [
        ("192.0.2.1", 0),
        ("2001:db8::1", 1),
        ("ID#0000000007", 0),
        (None, 0),
        (0x50505300, 2),  # a refclock: its reference ID in the slot
    ],
)
def test_source_address_says_what_field_value_says(address, mode):
    response = reg.SOURCES.responses[-1]
    values = [address, 6, 2, 0, mode, 0, 255, 10, 1e-6, 1e-6, 1e-5]
    datagram = _wire.encode_reply(response, values, command=reg.SOURCES.record_request, sequence=1)
    layout = _wire.REPORT_LAYOUTS["sources"][response.code]
    raw = layout.source_address(datagram, "address")
    text = layout.field_value(datagram, "address")
    assert (raw is not None) == isinstance(text, str)
    if raw is not None:
        assert raw == layout.address_bytes(datagram, "address")
        assert _wire.address_text(raw[:16], raw[17]) == text  # the cached decode_address
