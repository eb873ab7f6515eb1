"""Local Kubernetes control plane for tests and demos (see cluster.py)."""

from localcluster.cluster import ClusterError, LocalCluster, stop_from_state

__all__ = ["ClusterError", "LocalCluster", "stop_from_state"]
