"""The app on a real local port, in a thread: for `connector demo` and the end-to-end tests.

The port is known before the app is built, because the app's settings need its own public URL
(OAuth redirect and webhook URLs point at it).
"""

from __future__ import annotations

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    def log_request(self, *_args, **_kwargs) -> None:  # request lines would carry OAuth codes and states
        pass


class LiveServer:
    def __init__(self, host: str = "127.0.0.1"):
        self._app = None
        self._server = make_server(host, 0, self, threaded=True, request_handler=_Quiet)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-app", daemon=True)

    def __call__(self, environ, start_response):
        return self._app(environ, start_response)

    def start(self, app) -> "LiveServer":
        self._app = app
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
