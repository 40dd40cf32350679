"""moto's DynamoDB server with every request applied atomically.

moto's UpdateItem is not atomic under concurrent requests: it reads the item,
checks the condition, then creates a key-only item and applies the update, so
two racing conditional writes can both pass (the store suite's 16-acquirer
race caught it granting one lock twice). DynamoDB applies each write to an
item atomically; this wrapper restores that by running one request at a time
through moto's backend while werkzeug still serves connections on threads.

Usage: python infra/moto_server.py --host 127.0.0.1 --port N
"""

import argparse
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class Serialized:
    """WSGI middleware: one request at a time through the wrapped app."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return list(self.app(environ, start_response))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        Serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
