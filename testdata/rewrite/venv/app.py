"""A stand-in service: reports numpy's version on port 8000."""
import http.server

import numpy as np


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"numpy {np.__version__}\n".encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.HTTPServer(("", 8000), Handler).serve_forever()
