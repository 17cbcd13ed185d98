"""HTTP: the Starlette app, the GraphQL endpoint, health checks and the command line."""
