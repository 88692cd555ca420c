#!/usr/bin/env python3
"""consul-test-agent: TEST EQUIPMENT that speaks a subset of Consul's HTTP API.

Not a Consul. It serves several agent nodes (one listening address each) over
one shared catalog / KV store / session table / coordinate table, with
Consul's documented semantics for the parts shoveling uses. See
consul/README.md ("The Consul test agent") for the endpoint list and the
places it differs from a real agent.

  consul-test-agent --node n1=127.0.0.1:0 --node n2=unix:///tmp/n2.sock \
                    --ready-file /tmp/ready

Prints nothing but errors; SIGTERM or SIGINT ends it cleanly (exit 0).
"""
import argparse
import json
import os
import random
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import consul_test_agent_state as st  # noqa: E402
from consul_test_agent_endpoints import ROUTES  # noqa: E402

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
REAP_INTERVAL = 0.05


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "consul-test-agent"

    def log_message(self, fmt, *args):  # errors only, never access logs
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def reply(self, status, body, ctype="application/json", index=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if index is not None:
            self.send_header("X-Consul-Index", str(index))
            self.send_header("X-Consul-KnownLeader", "true")
            self.send_header("X-Consul-LastContact", "0")
        self.end_headers()
        self.wfile.write(body)

    def dispatch(self, method):
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        srv = self.server
        try:
            if srv.acl_token:
                given = self.headers.get("X-Consul-Token") or query.get("token", [""])[0]
                if given != srv.acl_token:
                    raise st.HttpError(403, "Permission denied: token not accepted by consul-test-agent")
            matched = False
            for methods, pattern, fn, blocking in ROUTES:
                m = pattern.fullmatch(split.path)
                if not m:
                    continue
                matched = True
                if method not in methods:
                    continue
                arg = unquote(m.group(1)) if m.groups() else None
                req = Request(srv.state, srv.node_name, method, query, body, arg)
                if blocking:
                    min_index, wait = parse_blocking(query)
                    index, result = srv.state.blocking(lambda: fn(req), min_index, wait)
                else:
                    with srv.state.cond:
                        index, result = fn(req)
                status, payload, ctype = normalize(result)
                self.reply(status, payload, ctype, index if blocking else None)
                return
            if matched:
                raise st.HttpError(405, "method %s not allowed on %s" % (method, split.path))
            raise st.HttpError(404, "no such endpoint in consul-test-agent: %s" % split.path)
        except st.HttpError as e:
            self.reply(e.status, e.text + "\n", "text/plain; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # a bug here must not kill the server
            print("consul-test-agent: internal error on %s %s: %r" % (method, self.path, e),
                  file=sys.stderr)
            self.reply(500, "internal error in consul-test-agent: %r\n" % e, "text/plain")


class Request:
    def __init__(self, state, node, method, query, body, arg):
        self.state, self.node, self.method = state, node, method
        self.query, self.body, self.arg = query, body, arg

    def has(self, name):
        return name in self.query

    def get(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def json(self):
        """The body, its objects matched field by field as Consul does
        (st.GoObject: any case of a field name)."""
        if not self.body.strip():
            return {}
        try:
            value = st.parse_json_body(self.body)
        except ValueError as e:
            raise st.HttpError(400, "Request decode failed: %s" % e)
        if not isinstance(value, dict):
            raise st.HttpError(400, "Request decode failed: the body is not a JSON object")
        return value


def normalize(result):
    """(status, payload, ctype) from an endpoint result."""
    if isinstance(result, tuple):
        return result
    return 200, json.dumps(result), "application/json"


def parse_blocking(query):
    try:
        min_index = int(query.get("index", ["0"])[0] or 0)
    except ValueError:
        raise st.HttpError(400, "Invalid index: %r" % query.get("index"))
    wait = DEFAULT_WAIT
    if "wait" in query:
        try:
            wait = st.parse_duration(query["wait"][0])
        except ValueError:
            raise st.HttpError(400, "Invalid wait time")
    wait = min(wait, MAX_WAIT)
    return min_index, wait + random.uniform(0, wait / 16.0)  # Consul's jitter


class QuietErrors:
    """A client that hangs up mid-request (a blocking query ended by a killed
    worker, say) is normal for an agent, not an error worth a traceback."""

    def handle_error(self, request, client_address):
        # ssl.SSLError: a TLS client that does not trust us or lacks a cert.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class TcpServer(QuietErrors, socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    tls = None  # an ssl.SSLContext when the node serves https

    def server_bind(self):  # skip HTTPServer's reverse DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        # The handshake runs on first read, in the handler's thread, so a
        # client that fails it never stalls the accept loop.
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request.do_handshake()
            except ssl.SSLError:
                # Our alert is sent; let the client read it rather than a
                # reset: stop writing and drain what it already sent.
                request.settimeout(1.0)
                try:
                    request.shutdown(socket.SHUT_WR)
                    while request.recv(4096):
                        pass
                except OSError:
                    pass
                return
        super().finish_request(request, client_address)


class UnixServer(QuietErrors, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def parse_node(spec):
    name, sep, addr = spec.partition("=")
    if not sep or not name or not addr:
        raise ValueError("--node wants NAME=HOST:PORT or NAME=unix:///path, got %r" % spec)
    return name, addr


def tls_context(args):
    """None for plain http; else a server context from --tls-cert/--tls-key,
    requiring client certificates signed by --tls-client-ca when given."""
    if not args.tls_cert:
        if args.tls_key or args.tls_client_ca:
            raise ValueError("--tls-key and --tls-client-ca need --tls-cert")
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key or None)
    if args.tls_client_ca:
        ctx.load_verify_locations(cafile=args.tls_client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def start_server(state, name, addr, acl_token, tls=None):
    if addr.startswith("unix://"):
        path = addr[len("unix://"):]
        if os.path.exists(path):
            os.unlink(path)
        srv = UnixServer(path, Handler)
        shown = addr
    else:
        host, _, port = addr.rpartition(":")
        srv = TcpServer((host or "127.0.0.1", int(port)), Handler)
        srv.tls = tls
        shown = "%s:%d" % srv.server_address[:2]
    srv.state, srv.node_name, srv.acl_token = state, name, acl_token
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return srv, shown


def main(argv):
    p = argparse.ArgumentParser(prog="consul-test-agent", description=__doc__.split("\n")[0])
    p.add_argument("--node", action="append", required=True, help="NAME=HOST:PORT or NAME=unix:///path")
    p.add_argument("--ready-file", help="written with NAME=ADDRESS lines once every node listens")
    p.add_argument("--acl-token", default="", help="require this X-Consul-Token on every request")
    p.add_argument("--session-ttl-min", default="10s", help="smallest session TTL accepted (Consul: 10s)")
    p.add_argument("--tls-cert", help="serve https with this PEM certificate (TCP nodes)")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert (default: in that file)")
    p.add_argument("--tls-client-ca", help="require client certificates signed by this PEM CA")
    args = p.parse_args(argv)
    try:
        tls = tls_context(args)
        nodes = [parse_node(s) for s in args.node]
        if len({n for n, _ in nodes}) != len(nodes):
            raise ValueError("node names must be unique")
        state = st.State([n for n, _ in nodes], st.parse_duration(args.session_ttl_min))
        servers, lines = [], []
        for name, addr in nodes:
            srv, shown = start_server(state, name, addr, args.acl_token, tls)
            servers.append(srv)
            lines.append("%s=%s\n" % (name, shown))
    except (OSError, ValueError) as e:
        print("consul-test-agent: %s" % e, file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.writelines(lines)
        os.replace(tmp, args.ready_file)
    while not stop.wait(REAP_INTERVAL):
        with state.cond:
            state.reap(time.monotonic())
    state.stop()
    for srv in servers:
        srv.shutdown()
        srv.server_close()
        if isinstance(srv, UnixServer):
            try:
                os.unlink(srv.server_address)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
