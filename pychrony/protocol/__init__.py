"""chrony's command protocol, both ends, without I/O.

* :mod:`.codec` — packets both ways, built from the field registry through
  :mod:`pychrony._wire`'s layouts: requests decoded and replies encoded for a
  server, replies decoded for a client; what a given chronyd version expects
  and sends (:class:`~.codec.ChronydProfile`).
* :mod:`.server` — a chronyd's answering logic as a pure function of datagrams,
  a timeline position and the time it is told: no sockets, no clock reads.
* :mod:`.driver` — the socket driver that runs a server core on a Unix datagram
  socket and/or UDP ports, in a thread (``pychrony.testing.FakeChronyd``).

The client engine still lives in ``pychrony._cmdmon``; it is to move here beside
the codec (see docs/testing.md).
"""
