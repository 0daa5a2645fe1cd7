"""One exception type for input problems, so rules and the CLI can print them without a traceback."""


class MworkError(ValueError):
    """Bad input: the message names the field or file and says what to do."""
