"""The shop's HTTP API on loopback: POST /quote and POST /checkout with JSON bodies.

Run it with ``python -m shop.server --port 8077`` (from ``examples/shop``), or under the sensor with
``codewitness run -- python -m shop.server --port 8077``.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shop import checkout, pricing


def handle(path: str, payload: dict) -> tuple[int, dict]:
    try:
        if path == "/quote":
            lines = [pricing.Line(str(i["sku"]), int(i["quantity"])) for i in payload.get("items", [])]
            return 200, pricing.quote(lines, payload.get("coupon"))
        if path == "/checkout":
            order = checkout.place_order(
                payload.get("items", []),
                str(payload.get("card", "")),
                str(payload.get("token", "")),
                payload.get("coupon"),
            )
            return 200, order
    except (pricing.PricingError, checkout.PaymentError) as exc:
        return 422, {"error": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"error": f"bad request: {exc}"}
    return 404, {"error": "no such endpoint"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; without this, keep-alive clients wait for delayed ACKs.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            status, body = 400, {"error": "body is not JSON"}
        else:
            status, body = handle(self.path, payload)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a load test would otherwise print every request."""


def serve(port: int) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8077)
    args = parser.parse_args()
    server = serve(args.port)
    print(f"shop listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
