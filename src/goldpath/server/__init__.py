"""The goldpath server: HTTP routes, the ``/ws`` user stream and the web page, as one ASGI app.

    from goldpath.server import Settings, create_app
    app = create_app(Settings(data_dir="/var/lib/goldpath"))

`goldpath serve` runs it with uvicorn. See docs/server.md.
"""

from goldpath.server._app import create_app
from goldpath.server._settings import Settings

__all__ = ["Settings", "create_app"]
