"""The one error a bad seed file raises."""


class SeedError(Exception):
    """The seed files are wrong; the message says where and how."""
