"""Compute the SigV4 vectors of src/sigv4.rs independently with botocore.

    python3 -m venv /tmp/mu-venv && /tmp/mu-venv/bin/pip install botocore
    /tmp/mu-venv/bin/python plugins/minio_uploader/vectors/botocore_vectors.py

Signs through botocore's own `add_auth` (SigV4Auth for get-vanilla,
S3SigV4Auth for the PutObject), with its clock pinned to the vector's date,
and prints the canonical request, string to sign and Authorization header.
"""

import datetime
import hashlib

import botocore.auth
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def signed(auth, request, when):
    botocore.auth.get_current_datetime = lambda remove_tzinfo=True: when
    auth.add_auth(request)
    authz = request.headers["Authorization"]
    del request.headers["Authorization"]  # recompute the intermediates as add_auth saw them
    cr = auth.canonical_request(request)
    sts = auth.string_to_sign(request, cr)
    return cr, sts, authz


def show(name, cr, sts, authz):
    print(f"== {name}\n-- canonical request\n{cr}\n-- string to sign\n{sts}\n-- authorization\n{authz}\n")


# AWS SigV4 test suite: get-vanilla.
req = AWSRequest(method="GET", url="https://example.amazonaws.com/", headers={"Host": "example.amazonaws.com"})
show("get-vanilla", *signed(SigV4Auth(CREDS, "service", "us-east-1"), req, datetime.datetime(2015, 8, 30, 12, 36, 0)))

# An S3 PutObject as minio_uploader sends it (path-style, plain http, signed payload).
body = b"openapi: 3.1.0\ninfo:\n  title: TaylorDash\n"
print("payload sha256", hashlib.sha256(body).hexdigest())
req = AWSRequest(
    method="PUT",
    url="http://127.0.0.1:9000/taylordash-artifacts/run-42/docs/my%20spec%2Bv1.yaml",
    data=body,
    headers={"Content-Type": "application/yaml", "Host": "127.0.0.1:9000"},
)
show("s3-put-object", *signed(S3SigV4Auth(CREDS, "s3", "us-east-1"), req, datetime.datetime(2024, 2, 29, 23, 59, 59)))
