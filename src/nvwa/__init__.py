"""Nvwa: an ordinary video of people in, world-grounded 3D human motion out.

Importing the package is cheap: heavy backends (mediapipe, torch, sam3, boto3) are imported only
when a pipeline that uses them is built.
"""

__version__ = "0.1.0"

from nvwa.errors import NvwaError, InputError, ModelMissingError  # noqa: E402

__all__ = ["__version__", "NvwaError", "InputError", "ModelMissingError"]
