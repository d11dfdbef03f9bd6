"""Address forms accepted by ChronyConnection."""

from __future__ import annotations

import pytest

from pychrony._address import DEFAULT_SOCKETS, Endpoint, candidates, parse_address
from pychrony.exceptions import ChronyConnectionError


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("/run/chrony/chronyd.sock", Endpoint(path="/run/chrony/chronyd.sock")),
        ("192.0.2.1", Endpoint(host="192.0.2.1", port=323)),
        ("192.0.2.1:1323", Endpoint(host="192.0.2.1", port=1323)),
        ("2001:db8::1", Endpoint(host="2001:db8::1", port=323)),
        ("[2001:db8::1]:4323", Endpoint(host="2001:db8::1", port=4323)),
        ("[::1]", Endpoint(host="::1", port=323)),
    ],
)
def test_forms(text, endpoint):
    assert parse_address(text) == endpoint


@pytest.mark.parametrize(
    "text", ["chronyd.sock", "192.0.2.1:0", "192.0.2.1:70000", "[::1", "[::1]x", "host:abc", ""]
)
def test_invalid(text):
    with pytest.raises(ChronyConnectionError, match="address|port"):
        parse_address(text)


def test_auto_candidates_order():
    found = [str(e) for e in candidates(None)]
    assert found == [*DEFAULT_SOCKETS, "127.0.0.1:323", "[::1]:323"]
    assert candidates("") == candidates(None)
