"""A real S3 protocol for tests: moto's ThreadedMotoServer on 127.0.0.1 (allowed by the
suite's CRMFERRY_OUTBOUND_ALLOW), and a customer's credentials for it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def customer_credentials(endpoint: str) -> dict[str, str]:
    return {
        "access_key_id": "AKIACUSTOMER00000001",
        "secret_access_key": "customer-secret-" + secrets.token_hex(8),
        "region": "eu-west-1",
        "endpoint_url": endpoint,
    }


def direct_client(endpoint: str) -> Any:
    """A plain boto3 client for the test's own setup and checks (not the guard's)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="AKIATESTSETUP0000001",
        aws_secret_access_key="test-setup-secret",
    )


def new_bucket(endpoint: str) -> str:
    name = f"feed-{secrets.token_hex(6)}"
    direct_client(endpoint).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return name
