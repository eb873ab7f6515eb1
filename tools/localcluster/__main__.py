"""``python -m localcluster up --dir D --bin B`` / ``down --dir D``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localcluster import realnode
from localcluster.cluster import ClusterError, LocalCluster, stop_from_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the control plane in the background")
    up.add_argument("--dir", type=Path, required=True, help="state directory")
    up.add_argument("--bin", type=Path, required=True, help="directory of the built binaries")
    up.add_argument("--nodes", type=int, default=2, help="simulated nodes")
    up.add_argument(
        "--real-node",
        choices=("auto", "yes", "no"),
        default="auto",
        help="a real kubelet and containerd next to the simulated nodes (auto: if the host allows)",
    )
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
        want = {"auto": None, "yes": True, "no": False}[args.real_node]
        cluster = LocalCluster(
            args.bin, args.dir, nodes=args.nodes, real_node=want, python=sys.executable
        ).start()
    except ClusterError as e:
        print(f"cluster-up failed: {e}", file=sys.stderr)
        return 1
    print(f"control plane up at {cluster.server}; logs in {args.dir}")
    if cluster.real is not None:
        runner = cluster.real.images["runner"].ref
        print(f"real node {realnode.NAME} at {cluster.real.ip}; runner image {runner}")
        print("  pods of namespaces annotated as in realnode.REAL_NAMESPACE run there")
    else:
        print(f"no real node ({cluster.real_node_skipped}): pods are simulated by kwok")
    print(f"KUBECONFIG={cluster.kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
