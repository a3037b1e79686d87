"""The sensor-controller firmware (settings, heater and pump control, conversion, state machine).

The controller's logic imports nothing from `hal` or `emulator`.
"""
