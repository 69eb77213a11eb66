#!/usr/bin/env python3
"""A tiny wheel index for builds that must not need PyPI.

Serves WHEEL_DIR on 127.0.0.1 (a free port) as plain directory listings, which
pip (`find-links`) and uv (`find-links`) both read, with a long
`Cache-Control` on every file so that pip and uv write their HTTP caches as
they would from PyPI (the build proxy strips those headers; see
../shared/BUILDING-IMAGES.md). Writes CONF_DIR/pip.conf and CONF_DIR/uv.toml
pointing at it, for a build to bind over the base image's empty
/etc/pip.conf and /etc/uv/uv.toml:

    buildah bud ... -v CONF_DIR/pip.conf:/etc/pip.conf:ro \\
                    -v CONF_DIR/uv.toml:/etc/uv/uv.toml:ro

Prints the port on one line once it serves, then serves until killed, or,
with --until-stdin-closes, until its standard input reaches its end (so a
test that holds the pipe never leaves it running).
Usage: wheel-index.py [--until-stdin-closes] WHEEL_DIR CONF_DIR
"""

import functools
import http.server
import os
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    """Directory listings and files, cacheable for a year, no request log."""

    def end_headers(self):
        self.send_header("Cache-Control", "public, max-age=31536000")
        super().end_headers()

    def log_message(self, *args):
        pass


def main():
    args = sys.argv[1:]
    watch = args[:1] == ["--until-stdin-closes"]
    if watch:
        args = args[1:]
    if len(args) != 2:
        sys.exit("usage: wheel-index.py [--until-stdin-closes] WHEEL_DIR CONF_DIR")
    wheels, conf = args
    if watch:
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    handler = functools.partial(Handler, directory=wheels)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/"
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "pip.conf"), "w") as f:
        f.write(f"[global]\nno-index = true\nfind-links = {url}\n"
                "trusted-host = 127.0.0.1\ndisable-pip-version-check = true\n")
    with open(os.path.join(conf, "uv.toml"), "w") as f:
        f.write(f'no-index = true\nfind-links = ["{url}"]\n')
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
