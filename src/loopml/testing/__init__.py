"""Test kits shipped with loopml, for its own backends and for third-party ones."""
