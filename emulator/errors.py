"""The emulator's error type for bad input (element files, scenarios, fuels, CLI values)."""

from __future__ import annotations

from lambdarig.common.errors import InputError


class EmulatorInputError(InputError):
    """Bad emulator input: InputError(source, field, problem, *, allowed, suggestions).

    Raised before anything runs, so a bad file changes nothing.
    """
