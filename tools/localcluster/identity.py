"""Acting as a ServiceAccount, as a pod would: a kubeconfig whose user is a TokenRequest
token of that account (the Python client ignores impersonation)."""

from __future__ import annotations

from pathlib import Path

import yaml
from kubernetes import client


def service_account_kubeconfig(
    api: client.ApiClient, admin: Path, account: str, namespace: str, path: Path
) -> Path:
    """Writes to ``path`` the ``admin`` kubeconfig with every user replaced by a 4-hour
    token of ``namespace/account``; returns ``path``."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=4 * 3600)
    )
    answer = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, request
    )
    if answer.status is None:
        raise RuntimeError(f"no token for {namespace}/{account}: the TokenRequest had no status")
    kubeconfig = yaml.safe_load(admin.read_text())
    for user in kubeconfig["users"]:
        user["user"] = {"token": answer.status.token}
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return path
