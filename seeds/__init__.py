"""The source documents, their hand-checked extraction, and the loader that feeds db/."""
