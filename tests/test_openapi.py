"""The OpenAPI document is the truth: schemathesis generates requests from it against the running service
(uvicorn on loopback, the real model in the job slot) with every check on: no server error, no answer
outside its documented status, type or schema, no schema-valid request refused (uploads: see
tests/schemathesis.toml), no schema-invalid one accepted, methods and Allow headers right, the API key
not ignored. 25 examples per operation, a fixed seed (a failure reproduces), < 1 minute each."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_hostile import Hostile, assert_clean

httpx = pytest.importorskip("httpx", reason="the service tests need the dev extra (httpx)")
pytest.importorskip("fastapi", reason="the service tests need the server extra")
ST = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(ST is None, reason="schemathesis is not installed (dev extra)")

from nvwa.service import Settings  # noqa: E402

CONFIG = Path(__file__).parent / "schemathesis.toml"


def run_schemathesis(url: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [ST, "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "all", "--max-examples", "25",
           "--workers", "1", "--seed", "20261201", "--generation-database", "none", "--request-timeout", "30", "--max-failures", "20", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("api_key", [None, "k3y-for-the-fuzzer"])
def test_schemathesis_finds_nothing(models_dir, tmp_path, api_key):
    settings = Settings(data_dir=tmp_path, models_dir=str(models_dir), max_upload_mb=2.0, api_key=api_key)
    headers = ["-H", f"X-API-Key: {api_key}"] if api_key else []
    with Hostile(settings) as s, httpx.Client(base_url=s.url, timeout=60, headers=dict(
            [("X-API-Key", api_key)] if api_key else [])) as c:
        r = run_schemathesis(s.url, *headers)
        report = r.stdout[-6000:]
        # (its one warning: uploads "mostly rejected", as random bytes are no video: see schemathesis.toml)
        tested = re.search(r"(\d+) generated, (\d+) passed", r.stdout)
        assert r.returncode == 0 and tested and tested[1] == tested[2], report  # every case passed every check
        assert int(tested[1]) >= 300, tested[0]  # it really ran: every operation, many cases
        assert_clean(s, c)  # the fuzzer's jobs deleted, nothing of them left
