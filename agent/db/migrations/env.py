"""Alembic environment: the engine comes from ReelTwin (``config.attributes['engine']``)."""

from alembic import context
from sqlmodel import SQLModel

import agent.db.models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata
engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite needs batch mode
        compare_type=True,
    )
    context.run_migrations()
