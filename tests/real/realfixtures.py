"""Fixtures of the real tier (a plugin of tests/conftest.py): the local cluster's real
node, the platform doubles served on the node's address (where runner pods reach the
host), and a namespace whose pods the admission plugins pin to the real node, under the
`restricted` Pod Security level."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from schedules import Schedules

from conftest import REQUIRE_REAL, Cluster, OperatorProcess
from localcluster.realnode import REAL_NAMESPACE
from platformdouble import API_KEY, SIGNING_SECRET, TOKEN, DoubleServer


@pytest.fixture(scope="session")
def real_node(cluster: Cluster) -> dict[str, Any]:
    """The real node's description; the test does not run (never passes) without one."""
    if cluster.real_node is None:
        why = cluster.real_node_skipped or "the cluster under test has no real node"
        if REQUIRE_REAL:
            pytest.fail(f"the real node is required (AISCHED_REQUIRE_REAL_NODE=1): {why}")
        pytest.skip(f"no real node: {why}")
    return cluster.real_node


@pytest.fixture(scope="session")
def runner_image(real_node: dict[str, Any]) -> str:
    ref: str = real_node["images"]["runner"]["ref"]
    return ref


@pytest.fixture(scope="session")
def double(real_node: dict[str, Any]) -> Iterator[DoubleServer]:
    server = DoubleServer((real_node["ip"], 0)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_namespace(api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    meta = client.V1ObjectMeta(name=name, labels=labels, annotations=REAL_NAMESPACE)
    core.create_namespace(client.V1Namespace(metadata=meta))
    secrets = {
        "codemie-credentials": {"token": TOKEN},
        "openai-credentials": {"api-key": API_KEY},
        "webhook-credentials": {"signing-secret": SIGNING_SECRET},
    }
    for secret, data in secrets.items():
        core.create_namespaced_secret(
            name,
            client.V1Secret(metadata=client.V1ObjectMeta(name=secret), string_data=data),
        )
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def rs(
    api: client.ApiClient,
    cluster: Cluster,
    real_namespace: str,
    operator: OperatorProcess,
) -> Schedules:
    """AssistantSchedules in a namespace whose pods run on the real node."""
    return Schedules(api, cluster.kubectl, real_namespace)
