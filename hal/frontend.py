"""The FrontEnd interface: whatever carries the pump, Nernst and heater electronics.

Backends implement `sample`, `apply`, `wait_until`, `now`, `safe`, `info` and `close`. Used as a
context manager a front end is made safe (heater off, pump 0) on every way out, exceptions included.

Optional abilities are declared here with defaults that mean "this front end cannot", so callers ask
the interface and never probe a backend's attributes:

- `truth()`: the emulator's true values (simulation); None elsewhere.
- `stored_settings_image()` / `stored_settings()`: the controller settings a device keeps (a bench
  rig's flash), as the raw image / as TOML text; None where there are none.
- `can_reconnect` / `reconnect(timeout_s)`: resume after a LinkLost (a rig that came back on its
  port); `reconnect` raises FrontEndError on front ends that cannot.
- `scenario_duration_s()`: how long the front end's own script runs (a sim scenario); None for
  front ends that follow the wall clock without end.
- `log_header_lines()`: "# "-prefixed lines describing the setup in force (an instrument
  station's settings), for the head of a run log; none by default.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .types import Command, FrontEndError, FrontEndInfo, Sample


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

    # -- optional abilities: the defaults say "not this front end" ------------------------------

    def truth(self) -> Any:
        """The emulator's true values (simulation only: an emulator Truth); None elsewhere."""
        return None

    def stored_settings_image(self) -> bytes | None:
        """The controller settings image stored on the device (a bench rig's flash; the
        lambdarig.protocol.wire container, checked), for the firmware side to decode; None where
        there is none."""
        return None

    def stored_settings(self) -> str | None:
        """Controller settings stored on the device (TOML text), for front ends that keep them
        as text; None where there are none."""
        return None

    @property
    def can_reconnect(self) -> bool:
        """Whether reconnect() may bring this front end back after a LinkLost."""
        return False

    def reconnect(self, timeout_s: float) -> None:
        """Resume after a LinkLost, waiting up to timeout_s. FrontEndError where not possible."""
        raise FrontEndError(f"{self.info().name}: this front end cannot reconnect")

    def scenario_duration_s(self) -> float | None:
        """How long the front end's own script runs (a sim scenario), seconds; None without one."""
        return None

    def log_header_lines(self) -> list[str]:
        """'# '-prefixed lines describing the setup in force, for the head of a run log."""
        return []

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        self.safe()

    def __enter__(self) -> FrontEnd:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.safe()
        finally:
            self.close()
