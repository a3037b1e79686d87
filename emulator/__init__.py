"""Physics emulator of zirconia exhaust-gas sensor elements.

Layering: this package imports nothing from `controller` or `hal`. It models the gas, the element
(diffusion, electrochemistry, heater, heat balance), the analog board that drives and reads it,
and scenarios that script the world over time.
"""
