"""Errors a user sees. Each message is one line that names the input and the problem."""


class NvwaError(Exception):
    """Base of every error Nvwa raises on purpose."""


class InputError(NvwaError):
    """The input (a video file, an option value) cannot be used.

    The message names the input: ``InputError(path, "is empty (0 bytes)")`` reads
    ``"clip.mp4: is empty (0 bytes)"``.
    """

    def __init__(self, what: object, problem: str):
        self.what = str(what)
        self.problem = problem
        super().__init__(f"{self.what}: {problem}")


class ModelMissingError(NvwaError):
    """A model file is absent or fails its checksum; the message names the command that fetches it."""
