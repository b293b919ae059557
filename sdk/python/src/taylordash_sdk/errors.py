"""The tool's typed errors: the WIT `tool-error` variant as Python exceptions.

Raise one from `Tool.run`; the SDK returns it to the host as the matching
`tool-error` case. The host maps every case to exit code 1, and the
orchestrator retries only `Retryable`.
"""


class ToolError(Exception):
    """Why a call failed; `kind` names the WIT case, `message` the reason."""

    kind = "failed"
    _label = "failed"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self._label}: {self.message}"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.message == self.message  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    @classmethod
    def failed(cls, err: object) -> "Failed":
        """A `Failed` from anything printable, for `except E as e: raise ToolError.failed(e)`."""
        return Failed(str(err))


class InvalidInput(ToolError):
    """The input did not match the tool's input schema; not worth retrying."""

    kind = "invalid-input"
    _label = "invalid input"


class Failed(ToolError):
    """The tool ran and failed; the same input fails the same way."""

    kind = "failed"
    _label = "failed"


class Retryable(ToolError):
    """A transient failure; the orchestrator may retry."""

    kind = "retryable"
    _label = "retryable"
