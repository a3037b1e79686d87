"""The sensor-controller firmware (settings, heater and pump control, conversion, state machine).

Not built yet: see issue 4. The controller's logic imports nothing from `hal` or `emulator`.
"""
