#!/usr/bin/python3
"""web.py ADDR PORT DIR [SECONDS]: serves DIR over HTTP on ADDR:PORT (IPv4 or IPv6) for the lab, then exits
by itself after SECONDS (default 120). Not http.server's command line: its HTTPServer looks
the address up in DNS (getfqdn), which hangs in a namespace with no resolver."""
import functools
import http.server
import socket
import socketserver
import sys
import threading

addr, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET


with Server((addr, port), functools.partial(Quiet, directory=root)) as srv:
    threading.Timer(seconds, srv.shutdown).start()
    srv.serve_forever()
