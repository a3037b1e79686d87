"""Where lambdarig keeps state of its own between runs (an emulated rig's flash): the user's state
directory, `$XDG_STATE_HOME/lambdarig` (default `~/.local/state/lambdarig`, the XDG Base Directory
specification), never the current directory or the installed package."""

from __future__ import annotations

import os
from pathlib import Path

APP = "lambdarig"


def user_state_dir() -> Path:
    """$XDG_STATE_HOME/lambdarig when XDG_STATE_HOME is an absolute path (the spec ignores a relative
    one), else ~/.local/state/lambdarig. Not created here."""
    base = os.environ.get("XDG_STATE_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / APP
