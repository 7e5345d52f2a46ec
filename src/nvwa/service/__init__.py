"""The HTTP service (extra ``server``): ``create_app(Settings())``, started by ``nvwa serve``."""

from nvwa.service.app import create_app
from nvwa.service.settings import Settings

__all__ = ["create_app", "Settings"]
