"""A tiny HTTP service instrumented by the official SkyWalking Python agent.

Used by tests/tests/python_interop.rs. The agent is configured from the environment
(SW_AGENT_COLLECTOR_BACKEND_SERVICES, SW_AGENT_NAME, ...) and instruments the standard
library automatically: `http.server` (plugin sw_http_server: an entry span per request,
continuing the caller's trace from `sw8`) and `urllib.request` (plugin sw_urllib_request:
an exit span per call, `sw8` injected).

    python service.py [DOWNSTREAM_URL]

Listens on 127.0.0.1 (ephemeral port) and prints `READY <port>` once it serves. Every GET
answers `<SW_AGENT_NAME> <trace id>\n` (the trace the agent recorded the request in, empty
when the agent records nothing for it, e.g. a path in SW_AGENT_TRACE_IGNORE_PATH),
followed, when DOWNSTREAM_URL is given, by the body of a GET to it. A `to=<path>` query
parameter replaces the path of DOWNSTREAM_URL for that request (`GET /front?to=/other`).
Exits when stdin closes (the agent flushes its queued segments at exit).
"""

import os
import sys
import threading
import urllib.request
from urllib.parse import parse_qs, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from skywalking import agent
from skywalking.trace.context import get_context

SERVICE = os.environ.get('SW_AGENT_NAME', 'python')
DOWNSTREAM = sys.argv[1] if len(sys.argv) > 1 else None


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server naming)
        status = 200
        # Inside the entry span the http.server plugin opened for this request.
        body = f'{SERVICE} {get_context().segment.related_traces[0]}\n'
        downstream = DOWNSTREAM
        to = parse_qs(urlsplit(self.path).query).get('to')
        if downstream and to:
            downstream = urlsplit(downstream)._replace(path=to[0]).geturl()
        if downstream:
            try:
                with urllib.request.urlopen(downstream, timeout=30) as response:
                    body += response.read().decode()
            except Exception as error:  # noqa: BLE001 (reported to the test in the body)
                status = 502
                body += f'{SERVICE}: GET {downstream} failed: {error!r}\n'
        data = body.encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (the http.server signature)
        sys.stderr.write(f'{SERVICE}: {format % args}\n')


def main():
    agent.start()
    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f'READY {server.server_address[1]}', flush=True)
    sys.stdin.read()  # until the test closes stdin (or dies)
    server.shutdown()


if __name__ == '__main__':
    main()
