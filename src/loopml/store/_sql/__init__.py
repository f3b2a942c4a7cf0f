"""The SQLAlchemy backend of the metadata store: SQLite and PostgreSQL."""
