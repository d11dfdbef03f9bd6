"""The ``pychrony`` command: chronyc's monitoring commands, JSON, a check, a dashboard.

The package shows how the command is built:

* :mod:`.options` -- chronyc's command line (``-h HOST -p PORT -n -N -c -m -w -4 -6``)
  and pychrony's long options;
* :mod:`.chronyc` -- the report commands (``sources -a -v``, ``ntpdata ADDRESS`` ...)
  and chronyc's rules for printing them;
* :mod:`.layouts` -- chronyc's formats as data over the registry's field names, and
  :mod:`.printf` -- chronyc's field conversions (units, widths, CSV forms);
* :mod:`.names` -- the name column (DNS, ``-N``), :mod:`.reports` -- running commands
  once, several (``-m``) or ``--watch``;
* :mod:`.check` with :mod:`.plugin` -- ``pychrony check``, a monitoring plugin;
* :mod:`.serve`, :mod:`.lab`, :mod:`.schema` -- the other subcommands;
* :mod:`.common` -- exit codes, usage errors, output that survives any encoding.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
