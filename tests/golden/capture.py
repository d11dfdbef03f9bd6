"""Capture reply datagrams from a real chronyd lab as golden test data.

    python tests/golden/capture.py            # writes tests/golden/chronyd-<version>.json
    python tests/golden/capture.py --chronyd /opt/chrony-4.6/chronyd   # another release

``--chronyd`` runs the lab with another chronyd (and the ``chronyc`` beside it, if
any), e.g. a wrapper tests/golden/fetch_chronyd.py wrote; the requests follow the
layouts of the version that chronyd reports (``codec.profile``).

Starts a :class:`pychrony.lab.Lab` (chronyd -x: the clock is never touched), sends
pychrony's requests for every report and record over the Unix socket, the open
ones and some refused ones over UDP, and the malformed requests whose answers
chronyd defines (bad length, bad version, unknown command), and stores each
request with the reply chronyd sent (null: none). Only monitoring requests and
requests chronyd refuses before acting are sent: nothing can change chronyd.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pychrony import _clients
from pychrony import registry as reg
from pychrony.lab import Lab, find_chronyd
from pychrony.lab.install import CHRONYC_ENV, CHRONYD_ENV
from pychrony.protocol import codec, wire

HERE = Path(__file__).resolve().parent
_MAKESTEP, _BURST = 43, 3


class Capture:
    def __init__(self, lab: Lab, version: str) -> None:
        self.items: list[dict[str, Any]] = []
        self.sequence = 0x1000
        self.version = version
        self.lengths = codec.profile(version).lengths
        self.dir = tempfile.mkdtemp(prefix="golden-", dir=str(Path(lab.socket_path).parent))
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.unix.bind(f"{self.dir}/sock")
        self.unix.connect(lab.socket_path)
        host, port = lab.udp_address.rsplit(":", 1)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.connect((host, int(port)))

    def send(
        self,
        name: str,
        command: int,
        data: bytes = b"",
        *,
        udp: bool = False,
        length: int | None = None,
        version: int = reg.PROTOCOL_VERSION,
    ) -> bytes | None:
        self.sequence += 1
        request = bytearray(
            wire.encode_request(
                command,
                self.sequence,
                0,
                data,
                self.lengths.get(command, 28) if length is None else length,
            )
        )
        if length is not None:
            request = request[:length]
        request[0] = version
        sock = self.udp if udp else self.unix
        sock.settimeout(1.0)
        sock.send(bytes(request))
        try:
            reply: bytes | None = sock.recv(2048)
        except TimeoutError:
            reply = None
        self.items.append(
            {
                "name": name,
                "transport": "udp" if udp else "unix",
                "request": bytes(request).hex(),
                "reply": reply.hex() if reply is not None else None,
            }
        )
        return reply


def capture(lab: Lab, version: str) -> list[dict[str, Any]]:
    cap = Capture(lab, version)
    count_reply = cap.send("count", reg.COUNT_REQUEST)
    assert count_reply is not None
    count = wire.COUNT_LAYOUT.decode(count_reply)[0]
    addresses: list[bytes] = []
    for index in range(count):
        raw = wire.encode_index(index)
        cap.send(f"sources {index}", reg.SOURCES.record_request, raw)
        stats = cap.send(f"sourcestats {index}", reg.SOURCESTATS.record_request, raw)
        cap.send(f"selectdata {index}", reg.SELECTDATA.record_request, raw)
        assert stats is not None
        layout = wire.REPORT_LAYOUTS["sourcestats"][wire.REPLY_KEY.unpack_from(stats)[4]]
        address = layout.address_bytes(stats, "address")
        if int.from_bytes(address[16:18], "big"):
            addresses.append(address)
    for address in addresses:
        text = wire.decode_address(address[:16], int.from_bytes(address[16:18], "big"))
        for report in (reg.NTPDATA, reg.AUTHDATA):
            cap.send(f"{report.name} {text}", report.record_request, address)
        cap.send(f"sourcename {text}", reg.SOURCE_NAME_REQUEST, address)
    for report in (reg.TRACKING, reg.ACTIVITY, reg.SERVERSTATS, reg.RTCDATA, reg.SMOOTHING):
        cap.send(report.name, report.record_request)
    # chronyd's answers that do not depend on its state.
    nowhere = wire.encode_address("192.0.2.250")
    cap.send("sources missing", reg.SOURCES.record_request, wire.encode_index(999))
    cap.send("ntpdata missing", reg.NTPDATA.record_request, nowhere)
    cap.send("sourcename missing", reg.SOURCE_NAME_REQUEST, nowhere)
    cap.send("tracking short", reg.TRACKING.record_request, length=60)
    cap.send("tracking version 5", reg.TRACKING.record_request, version=5)
    cap.send("tracking version 4", reg.TRACKING.record_request, version=4)
    cap.send("unknown command", 200, length=28)
    cap.send("null", codec.REQ_NULL)
    cap.send("logon", codec.REQ_LOGON)
    cap.send("manual list", codec.REQ_MANUAL_LIST)
    for report in reg.REPORTS:
        if report.record_arg is reg.RecordArg.NONE:
            cap.send(f"{report.name} udp", report.record_request, udp=True)
        elif report.record_arg is reg.RecordArg.INDEX:
            cap.send(f"{report.name} 0 udp", report.record_request, wire.encode_index(0), udp=True)
        else:
            cap.send(f"{report.name} udp", report.record_request, addresses[0], udp=True)
    cap.send("count udp", reg.COUNT_REQUEST, udp=True)
    # Refused over UDP before anything is done (chronyd's permission check).
    cap.send("makestep udp", _MAKESTEP, udp=True)
    cap.send("burst udp", _BURST, udp=True)
    # Every report request 4 bytes short of its version's padding (STT_BADPKTLENGTH).
    for report in reg.REPORTS:
        if report is not reg.TRACKING:  # "tracking short" above
            length = cap.lengths[report.record_request] - 4
            cap.send(f"{report.name} short", report.record_request, length=length)
    # Every command that is not open, over UDP, at its version's length and 4 bytes
    # short: which commands exist and how long each must be (STT_INVALID,
    # STT_BADPKTLENGTH, STT_UNAUTH), all decided before chronyd acts on one.
    open_commands = codec.profile(cap.version).open_commands
    for command in range(codec.profile(cap.version).request_types + 2):
        if command in open_commands:
            continue
        length = max(cap.lengths.get(command, 0), reg.REQUEST_HEADER_LEN)
        cap.send(f"command {command} udp", command, length=length, udp=True)
        if length > reg.REQUEST_HEADER_LEN:
            cap.send(f"command {command} short udp", command, length=length - 4, udp=True)
    # The client log (command clients by address: the UDP requests above), page 0.
    cap.send("clients", reg.CLIENTS.record_request, _clients.encode_page(0))
    return cap.items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chronyd", help="the chronyd to run (default: the system's)")
    args = parser.parse_args()
    if args.chronyd:
        os.environ[CHRONYD_ENV] = str(Path(args.chronyd).absolute())
        chronyc = Path(args.chronyd).absolute().with_name("chronyc")
        if os.access(chronyc, os.X_OK):
            os.environ[CHRONYC_ENV] = str(chronyc)
    chronyd = find_chronyd()
    if chronyd is None:
        print("chronyd is not installed", file=sys.stderr)
        return 1
    said = subprocess.run([chronyd, "-v"], capture_output=True, text=True, check=True).stdout
    version = said.split()[3]  # "chronyd (chrony) version 4.6.1 (+CMDMON ...)"
    with Lab(sources=3, refclock=True) as lab:
        lab.wait_synced()
        items = capture(lab, version)
    # Layouts change with minor releases: one file per major.minor.
    out = HERE / f"chronyd-{'.'.join(version.split('.')[:2])}.json"
    out.write_text(json.dumps({"chronyd": version, "datagrams": items}, indent=1) + "\n")
    print(f"{out}: {len(items)} datagrams")
    return 0


if __name__ == "__main__":
    sys.exit(main())
