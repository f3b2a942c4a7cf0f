"""Environment variables that turn something on or off, read one way: a value that is
neither is an error naming the variable, the value and what it takes, never a guess.

>>> env_flag("LOOPML_EXAMPLE", {"LOOPML_EXAMPLE": "Off"})
False
>>> env_flag("LOOPML_EXAMPLE", {}) is None
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from loopml.errors import ConfigError

ON = ("1", "true", "yes", "on")
OFF = ("0", "false", "no", "off", "")


def env_flag(name: str, env: Mapping[str, str] | None = None) -> bool | None:
    """Whether the variable ``name`` says on or off; None when it is not set."""
    value = (os.environ if env is None else env).get(name)
    if value is None:
        return None
    said = value.strip().lower()
    if said in ON:
        return True
    if said in OFF:
        return False
    raise ConfigError(
        f"{name}={value!r} is neither on nor off; set it to 1, true, yes or on, or to 0, "
        "false, no or off (or unset it)",
        field=name,
    )
