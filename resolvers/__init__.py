"""What each field means: argument checks, global IDs and cursors, and which loader answers.

Resolvers return rows (SQLModel objects), slices of rows, and small values of their own (a
citation's context, a search hit); `schema/` turns them into types.
"""
