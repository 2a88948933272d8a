"""docker-compose.yml cannot run here (no Docker engine), but Compose itself must accept it."""

import os
import subprocess
from pathlib import Path

import yaml

from tests.conftest import require_program
from tests.settings_support import PRODUCTION_REQUIRED

ROOT = Path(__file__).resolve().parent.parent


def test_compose_accepts_the_production_topology():
    compose = require_program("docker-compose")
    result = subprocess.run(
        [compose, "config"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SECRET_KEY": "compose-config-check"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"postgres", "redis", "web", "worker", "minio", "mailpit"} <= set(services)
    for name in ("migrate", "web", "worker", "analyst", "beat"):
        environment = services[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "skintrack.settings.production"
        # Production refuses to start without these: each process must be given every one.
        assert {variable for variable in PRODUCTION_REQUIRED if environment.get(variable)} == set(PRODUCTION_REQUIRED)
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["AWS_STORAGE_BUCKET_NAME"] and environment["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert environment["EMAIL_HOST"] == "mailpit"
    assert "gunicorn" in (ROOT / "Dockerfile").read_text()
    # gunicorn bounds no request body: the proxy in front refuses an upload past the photo bound, and is the only
    # way in, so the forwarded client address Django trusts is always the proxy's.
    assert "ports" not in services["web"]
    assert [str(port["published"]) for port in services["proxy"]["ports"]] == ["8000"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "client_max_body_size 21m;" in nginx and "proxy_pass http://web:8000;" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx  # a client's own header never passes
    assert services["web"]["environment"]["SKINTRACK_TRUSTED_PROXY_COUNT"] == "1"
    assert services["worker"]["command"][:3] == ["celery", "-A", "skintrack"]
