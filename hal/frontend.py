"""The FrontEnd interface: whatever carries the pump, Nernst and heater electronics.

Backends implement `sample`, `apply`, `wait_until`, `safe`, `info` and `close`. Used as a context
manager a front end is made safe (heater off, pump 0) on every way out, exceptions included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .types import Command, FrontEndInfo, Sample


class FrontEnd(ABC):
    @abstractmethod
    def sample(self) -> Sample:
        """One reading, taken now."""

    @abstractmethod
    def apply(self, command: Command) -> None:
        """Set pump current, heater duty, excitation."""

    @abstractmethod
    def wait_until(self, t_s: float) -> bool:
        """Advance to time t_s on this front end's clock. Returns False when t_s had already
        passed (a late tick). Virtual-time backends integrate physics instead of sleeping."""

    @abstractmethod
    def now(self) -> float:
        """The front end's clock, seconds."""

    @abstractmethod
    def safe(self) -> None:
        """Heater off, pump current 0. Must not raise."""

    @abstractmethod
    def info(self) -> FrontEndInfo:
        ...

    def truth(self):
        """The emulator's true values (simulation only); None elsewhere."""
        return None

    def stored_settings(self) -> str | None:
        """Controller settings stored on the device (TOML text), for front ends that keep them
        (a bench rig's flash); None where there are none."""
        return None

    def close(self) -> None:
        self.safe()

    def __enter__(self) -> FrontEnd:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.safe()
        finally:
            self.close()
