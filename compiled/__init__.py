"""The compiled executor: an operation becomes one SQL statement that builds the response.

template.py collects an operation's selections, bind.py binds a request's arguments to
them, nested.py writes the bound tree as one statement nested as the response is (levels.py
as one CTE per level, where SQLite's parser cannot take the nesting; json_sql.py holds what
both write alike), shape.py and nested_data.py / levels_data.py read its rows back into the
response, executor.py runs it. What it does not cover goes to the reference executor
(schema/ -> resolvers/ -> loaders/).
"""
