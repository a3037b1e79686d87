"""udev rules for the lambdarig bench board and USB-TMC instruments (package data: *.rules).

Not code: a package only so that an installed lambdarig finds the rule files with
importlib.resources; `lambdarig udev print|install` reads them (scripts/cli/cmd_udev.py).
"""
