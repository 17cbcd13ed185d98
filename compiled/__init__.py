"""The compiled executor: an operation becomes one SQL statement that builds the response.

template.py collects an operation's selections, bind.py binds a request's arguments to
them, sql.py turns the bound tree into one statement per store, executor.py runs it. What
it does not cover goes to the reference executor (schema/ -> resolvers/ -> loaders/).
"""
