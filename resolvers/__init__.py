"""The reference executor's resolvers: which loader answers each field, with the arguments
read as semantics/ says they mean (the compiled executor reads them from there too).

Resolvers return rows (SQLModel objects), slices of rows, and small values of their own (a
citation's context, a search hit); `schema/` turns them into types.
"""
