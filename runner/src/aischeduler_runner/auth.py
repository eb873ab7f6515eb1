"""Bearer credentials: a static token, or access tokens from Keycloak that are renewed.

A Keycloak token is renewed shortly before it expires (`expires_in`) and after a 401, so
a workflow polled for longer than one token's lifetime keeps working.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx

from .errors import ConfigError, RunFailedError
from .http import Effect, Http
from .platforms.base import as_int, parse_json_object
from .redact import Redactor
from .settings import Keycloak

# Renew a token this long before Keycloak says it expires (clock skew, slow requests).
REFRESH_MARGIN_SECONDS = 30.0
# Keycloak answers 400 (invalid_grant, invalid_client) or 401 for bad credentials.
TOKEN_CONFIG_STATUSES = frozenset({400, 401, 403, 404})


class StaticBearer:
    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> bool:
        return False  # nothing to renew: a 401 means the token is wrong


class KeycloakBearer:
    """Client-credentials or password grant against Keycloak's token endpoint."""

    def __init__(
        self,
        http: Http,
        keycloak: Keycloak,
        redactor: Redactor,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._keycloak = keycloak
        self._redactor = redactor
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self.tokens_fetched = 0

    def headers(self) -> dict[str, str]:
        if self._token is None or self._clock() >= self._renew_at:
            self._token = self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def refresh(self) -> bool:
        self._token = None
        return True

    def _learn_tokens(self, response: httpx.Response) -> None:
        """Known secrets from here on, before anything could log or quote them."""
        try:
            body = parse_json_object(response, "Keycloak token answer")
        except RunFailedError:
            return  # no JSON object, so no token fields
        for key in ("access_token", "refresh_token", "id_token"):
            if isinstance(body.get(key), str):
                self._redactor.add(body[key])

    def _fetch(self) -> str:
        kc = self._keycloak
        form = {"grant_type": kc.grant, "client_id": kc.client_id}
        if kc.client_secret:
            form["client_secret"] = kc.client_secret
        if kc.grant == "password":
            form["username"] = kc.username or ""
            form["password"] = kc.password or ""
        what = f"Keycloak token request ({kc.grant} grant, client {kc.client_id!r})"
        try:
            response = self._http.request(
                "POST",
                kc.token_url,
                what=what,
                form=form,
                # Asking for a token changes nothing: resent after any transient failure.
                effect=Effect.READ,
                config_statuses=TOKEN_CONFIG_STATUSES,
                # An error answer may carry tokens too, and its body is quoted in messages.
                inspect=self._learn_tokens,
            )
        except ConfigError as exc:
            raise ConfigError(f"Keycloak rejected the credentials: {exc.message}") from exc
        body = parse_json_object(response, what)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RunFailedError(f"{what}: the answer has no access_token")
        expires_in = body.get("expires_in")
        # A lifetime of the wrong type or beyond any float (`1e400`) is no lifetime.
        seconds = as_int(expires_in)
        lifetime = float(seconds) if seconds is not None else math.inf
        self._renew_at = self._clock() + lifetime - REFRESH_MARGIN_SECONDS
        self.tokens_fetched += 1
        self._http.log.info(
            "obtained an access token from Keycloak",
            event="auth.token",
            grant=kc.grant,
            expiresInSeconds=expires_in,
        )
        return token
