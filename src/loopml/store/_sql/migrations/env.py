"""Alembic environment: runs on the connection (and inside the transaction) loopml hands it."""

from alembic import context

from loopml.store._sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
