"""The lab's exceptions."""

from __future__ import annotations

__all__ = ["LabError", "PortClash"]


class LabError(RuntimeError):
    """The lab could not be set up, started, or reached."""


class PortClash(LabError):
    """A daemon could not bind a port picked for it (someone took it meanwhile)."""
