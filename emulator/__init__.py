"""Physics emulator of zirconia exhaust-gas sensor elements.

Layering: this package imports nothing from `controller` or `hal`. It models the gas, the element
(diffusion, electrochemistry, heater, heat balance), the analog board that drives and reads it,
and scenarios that script the world over time. Individual sensors: `production.unit_spec` draws unit N
from an element file's `[tolerance]` section (with its trim resistor) and `ageing.aged_spec` ages it;
both return a changed ElementSpec, so the model code is the same for every unit.
"""
