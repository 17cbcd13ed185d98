"""What each field means: argument checks, global IDs and cursors, and which loader answers.

Resolvers return rows (SQLModel objects) and slices of rows; `schema/` turns them into types.
"""
