"""The sensor-controller firmware (settings, heater and pump control, conversion, state machine).

What it imports from the rest of lambdarig: the seam types (`lambdarig.hal.types`: Sample, Command,
FrontEndInfo; `lambdarig.hal.frontend`: the FrontEnd interface its runtime loop drives), the
settings-image container of the wire protocol (`lambdarig.protocol`) and the shared error root and
input readers (`lambdarig.common`). Never the emulator, never a front end's implementation:
tests/test_layering.py holds the whole graph.
"""
