"""``python -m platformdouble --host H --port P``: serve the platform doubles until killed."""

from __future__ import annotations

import argparse

from platformdouble.server import DoubleServer


def main() -> None:
    parser = argparse.ArgumentParser(prog="platformdouble", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    args = parser.parse_args()
    server = DoubleServer((args.host, args.port))
    print(f"platform doubles at {server.url}: /codemie /openai /webhook/<name>", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
