"""chrony's command protocol, both ends: the codec, the client and the fake server.

Bytes only, no I/O:

* :mod:`.wire` — packets from the field registry: every reply layout compiled
  once into a :class:`~.wire.Layout` (one ``struct.Struct`` plus chrony's float,
  timespec and address conversions), request and reply headers, both directions.
* :mod:`.codec` — the server's side of the same layouts (requests decoded,
  replies encoded) and what a given chronyd version expects and sends
  (:class:`~.codec.ChronydProfile`).
* :mod:`.decoder` — the fast decoder: one generated function per reply layout,
  which the Python reader's fast path calls.
* :mod:`.engine` — the client engine, sans-I/O (:class:`~.engine.Requests`:
  datagrams and time in, datagrams and a deadline out), with :mod:`.planning`
  (which requests a read makes), :mod:`.names` and :mod:`.record`.
* :mod:`.server` — a chronyd's answering logic as a pure function of datagrams,
  a timeline position and the time it is told.

The only modules that touch sockets and clocks:

* :mod:`.transport` — the client's sockets (its Unix reply directory, UDP,
  reconnecting after a chronyd restart, a forked child's own socket);
* :mod:`.sync` and :mod:`.aio` — the client's drivers, poll() and asyncio;
* :mod:`.session` — :class:`~.session.CmdmonSession`, the facade a reader uses;
* :mod:`.driver` — the fake chronyd's socket driver (``pychrony.testing.FakeChronyd``).
"""
