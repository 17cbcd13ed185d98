"""Storage: tables, engine and sessions, migrations and the queries the loaders run."""
