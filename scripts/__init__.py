"""lambdarig: firmware for a zirconia exhaust-gas sensor controller, and a physics emulator of the
sensor element.

The package API is filled in by the redesign (issue 10); see README.md.
"""

__version__ = "0.2.0"
