"""Schemathesis hooks for scripts/test-api: every call that needs a token gets one of a real
account. Some calls end the session they are made with (sign out, end other sessions), so a 401
makes schemathesis sign in again and repeat the call once."""
import os

import requests
import schemathesis

BASE = os.environ["SESAME_API_BASE"]
USERNAME = os.environ["SESAME_API_USER"]
PASSWORD = os.environ["SESAME_API_PASSWORD"]


@schemathesis.auth(refresh_interval=120, retry_on=[401])
class SesameToken:
    def get(self, case, context):
        answer = requests.post(f"{BASE}/api/login", json={"username": USERNAME, "password": PASSWORD}, timeout=30)
        answer.raise_for_status()
        return answer.json()["access_token"]

    def set(self, case, data, context):
        # Only where the document names the bearer token (not the app clients' Basic). It
        # replaces the random token schemathesis generates from the security scheme.
        if any("bearer" in requirement for requirement in case.operation.definition.raw.get("security", [])):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"
