"""lambdarig: firmware for a zirconia exhaust-gas sensor controller, and a physics emulator of the
sensor element.

Use from Python:

    import lambdarig

    result = lambdarig.simulate("lsu49", scenario="default", duration_s=20.0, seed=1)
    result.summary["time_to_ready_s"]      # the summary `lambdarig simulate --json` prints
    result.samples[-1]["lambda_value"]     # telemetry rows: the firmware's status, and the truth
    result.samples[-1]["true_lambda_value"]  # (simulation only)
    frame = result.to_dataframe()          # the rows as a pandas DataFrame (pip install pandas)

    result = lambdarig.run("serial:auto", duration_s=60.0)   # a bench rig, a VISA station, sim:...

The API:

- `simulate(element="lsu49", scenario="default", duration_s=None, settings=None, seed=None, ...)`:
  the firmware against an emulated element, in virtual time.
- `run(hal_url, settings=None, duration_s=None, ...)`: the firmware on any front end.
  Both take a list (`simulate(["lsu49", "sealed-ref"])`, `run([url1, url2])`): several sensors in
  one run, each with its own firmware instance (`result.channels`).
- `SessionResult`: what both return (`.summary`, `.samples`, `.to_dataframe()`, `.run`).
- `log=` "run.csv", "run.mf4" or "run.msl": the run log in the format of its suffix (lambdarig.logs).
- `Controller`, `Settings`: the firmware and its settings; `Controller(settings).tick(sample)`
  returns the `Command` for one `Sample`.
- `open_frontend(url)`: a front end by URL (`sim:lsu49`, `serial:///dev/lambdarig0`,
  `visa:station.toml`); `FrontEnd` is its interface.
- `ElementMismatch`: refused settings made for another element than the front end carries.
- `__version__`.

Everything else lives in the subpackages (lambdarig.controller, .hal, .emulator, .protocol, .cli).
The names above are imported on first use (PEP 562), so `import lambdarig.emulator` does not load
the firmware.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lambdarig import aot as _aot

__version__ = "0.2.0"

# The hot path's modules built ahead of time give way to their source when it is newer or asked for.
_aot.install_source_fallback()

# Public name -> the module that defines it.
_EXPORTS = {
    "simulate": "lambdarig.api",
    "run": "lambdarig.api",
    "SessionResult": "lambdarig.result",
    "Controller": "lambdarig.controller.core",
    "Settings": "lambdarig.controller.settings",
    "ElementMismatch": "lambdarig.controller.runtime",
    "open_frontend": "lambdarig.hal.registry",
    "FrontEnd": "lambdarig.hal.frontend",
    "Sample": "lambdarig.hal.types",
    "Command": "lambdarig.hal.types",
}

__all__ = ["__version__", "simulate", "run", "SessionResult", "Controller", "Settings", "ElementMismatch",
           "open_frontend", "FrontEnd", "Sample", "Command"]

if TYPE_CHECKING:
    from lambdarig.api import run, simulate
    from lambdarig.controller.core import Controller
    from lambdarig.controller.runtime import ElementMismatch
    from lambdarig.controller.settings import Settings
    from lambdarig.hal.frontend import FrontEnd
    from lambdarig.hal.registry import open_frontend
    from lambdarig.hal.types import Command, Sample
    from lambdarig.result import SessionResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        import difflib  # only for this message: not on every start
        close = difflib.get_close_matches(name, __all__, n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; it exports {', '.join(__all__)}"
        raise AttributeError(f"module 'lambdarig' has no attribute {name!r}{hint}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value   # the next lookup skips __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
