"""Both backends run the shipped contract kit."""

from __future__ import annotations

import pytest

from loopml.testing.store_contract import StoreContract


class TestSQLite(StoreContract):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str:
        return sqlite_url


@pytest.mark.postgres
class TestPostgreSQL(StoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url
