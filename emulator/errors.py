"""The one error type for bad emulator input (element files, scenarios, fuels, CLI values)."""

from __future__ import annotations


class EmulatorInputError(ValueError):
    """Bad input: names the source (file or option), the field and what is allowed.

    Raised before anything runs, so a bad file changes nothing.
    """

    def __init__(self, source: str, field: str, problem: str):
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}")
