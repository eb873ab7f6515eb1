"""``python -m localcluster up --dir D --bin B`` / ``down --dir D``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcluster.cluster import ClusterError, LocalCluster, stop_from_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the control plane in the background")
    up.add_argument("--dir", type=Path, required=True, help="state directory")
    up.add_argument("--bin", type=Path, required=True, help="directory of the built binaries")
    up.add_argument("--nodes", type=int, default=2, help="simulated nodes")
    down = sub.add_parser("down", help="stop the control plane started by `up`")
    down.add_argument("--dir", type=Path, required=True, help="state directory")
    args = parser.parse_args(argv)

    if args.command == "down":
        stopped = stop_from_state(args.dir)
        print("stopped: " + ", ".join(stopped) if stopped else "no cluster running")
        return 0
    if (args.dir / "state.json").exists():
        print(f"a cluster is already running from {args.dir}; run `make cluster-down` first")
        return 1
    try:
        cluster = LocalCluster(args.bin, args.dir, nodes=args.nodes).start()
    except ClusterError as e:
        print(f"cluster-up failed: {e}", file=sys.stderr)
        return 1
    print(f"control plane up at {cluster.server}; logs in {args.dir}")
    print(f"KUBECONFIG={cluster.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
