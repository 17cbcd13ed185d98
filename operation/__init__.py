"""Preparing an operation, before either executor runs it: the request's limits, its cost and
its validation, computed once per document and shared by the compiled and reference paths."""
