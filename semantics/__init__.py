"""What the API's arguments and values mean, the same whichever executor answers: global IDs,
slugs and how many `nodes` takes (ids.py), opaque tokens (opaque.py), cursors and page sizes
(pagination.py), a list's filter, order and cursors' places (lists.py), a quote's context
width (quotes.py), search text (search_query.py), a search's arguments and hits (search.py)
and their highlights (highlights.py), and the API's names for fields (names.py). Both the
reference resolvers (resolvers/) and the compiled executor (compiled/) read them from here.
"""
