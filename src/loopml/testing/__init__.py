"""Test kits shipped with loopml, for its own backends and for third-party ones."""

# Its kits are its modules: loopml.testing.store_contract and the contracts it gathers.
__all__: list[str] = []
