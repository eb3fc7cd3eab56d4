"""The one exception type the seals package raises for expected failures."""


class SealError(Exception):
    """code is a stable machine reason code sent back to document senders.

    Callers branch on `code`; `message` is for the humans reading a status or a log.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
