"""The check every stored record's ``format`` number gets when it is read back.

>>> check_format(1, 1, "policy")
>>> check_format(2, 1, "policy")
Traceback (most recent call last):
...
loopml.errors.InvalidInput: policy format 2 is not one this loopml reads (1); upgrade ...
"""

from __future__ import annotations

from typing import Any

from loopml.errors import InvalidInput


def check_format(found: Any, wanted: int, what: str) -> None:
    """InvalidInput (field ``format``) unless ``found`` is the format number ``wanted``:
    a newer number asks for a newer loopml, anything else for the number itself."""
    if found == wanted and not isinstance(found, bool):
        return
    newer = isinstance(found, int) and not isinstance(found, bool) and found > wanted
    fix = (
        "upgrade loopml: pip install -U loopml"
        if newer
        else f"give format {wanted}: give {wanted}, a number"
    )
    raise InvalidInput(
        f"{what} format {found!r:.40} is not one this loopml reads ({wanted}); {fix}",
        field="format",
    )
