"""The one seam to the outside world: a FrontEnd interface and its backends.

Open a front end by URL through the registry, the way python-can opens buses:

    from lambdarig.hal import open_frontend, Command
    with open_frontend("sim:lsu49?scenario=default&seed=3") as fe:   # made safe on every way out
        fe.apply(Command(pump_current_a=0.0, heater_duty=0.3))
        fe.wait_until(1.0)
        reading = fe.sample()

Built-in backends: ``sim:ELEMENT`` (emulated element, virtual time; hal/sim.py),
``serial://PORT`` (a bench rig speaking the wire protocol of docs/protocol.md; hal/serial_frontend.py)
and ``visa:STATION.toml`` (lab instruments through pyvisa; hal/visa_frontend.py); all three split
their URLs with hal/url.py. Third-party backends plug in through the entry-point group
``lambdarig.frontends`` or ``register_frontend``; see hal/registry.py.
"""

from .frontend import FrontEnd
from .registry import known_schemes, open_frontend, register_frontend
from .types import SAFE_COMMAND, Command, FrontEndError, FrontEndInfo, LinkLost, Sample

__all__ = [
    "open_frontend", "register_frontend", "known_schemes",
    "FrontEnd", "Sample", "Command", "SAFE_COMMAND", "FrontEndInfo", "FrontEndError", "LinkLost",
]
