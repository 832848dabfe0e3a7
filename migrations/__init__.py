"""Alembic migrations, shipped inside the distribution so `connector db upgrade` works from any install."""
