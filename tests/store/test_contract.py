"""Every backend runs the shipped contract kit: SQLite, PostgreSQL and in-memory."""

from __future__ import annotations

import pytest

from loopml.testing.store_contract import StoreCapabilities, StoreContract


class TestSQLite(StoreContract):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str:
        return sqlite_url


@pytest.mark.postgres
class TestPostgreSQL(StoreContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url


class TestMemory(StoreContract):
    @pytest.fixture
    def store_url(self, memory_url: str) -> str:
        return memory_url

    @pytest.fixture
    def store_capabilities(self) -> StoreCapabilities:
        return StoreCapabilities(shared_between_processes=False)
