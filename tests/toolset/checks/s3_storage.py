"""app/storage.py: its SigV4 signature equals botocore's for the same request,
and a put/get/list/delete round trip on a local S3-compatible server (moto;
argv[1]: its port) returns the same bytes. Run from the workspace root."""
import asyncio, datetime, hashlib, os, sys
sys.path.insert(0, ".")
from app import storage

port = int(sys.argv[1])

# 1. SigV4: our signature equals botocore's for the same request.
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
import unittest.mock as um
now = datetime.datetime(2025, 9, 13, 10, 15, tzinfo=datetime.timezone.utc)
url = "https://minio.example:9000/taylordash-artifacts/artifacts/run-1/docs/index%20page.md?list-type=2&prefix=a%2Fb"
body = b"hello"
sha = hashlib.sha256(body).hexdigest()
ours = storage.sign("PUT", url, {"content-type": "text/markdown"}, sha, access_key="AKIDEXAMPLE",
                    secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region="us-east-1", now=now)
req = AWSRequest(method="PUT", url=url, data=body, headers={"content-type": "text/markdown", "x-amz-content-sha256": sha})
with um.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "s3", "us-east-1").add_auth(req)
assert ours["authorization"] == req.headers["Authorization"], (ours["authorization"], req.headers["Authorization"])
print("SigV4: identical to botocore's signature")

# 2. Round trip on a local S3-compatible server (moto).
async def main():
    s = storage.S3Storage(endpoint=f"http://127.0.0.1:{port}", bucket="taylordash-artifacts",
                          access_key="test", secret_key="test")
    await s.ensure_bucket()
    data = open("openapi.yaml", "rb").read()
    key = storage.artifact_key("run-1", "openapi.yaml")
    etag = await s.put(key, data, "application/yaml")
    back = await s.get(key)
    assert back == data and etag == hashlib.md5(data).hexdigest(), etag
    assert await s.list("artifacts/run-1/") == [key]
    await s.delete(key)
    assert await s.list("artifacts/") == []
    await s.close()
    print(f"moto S3: put/get/list/delete of {key} ok, {len(data)} bytes identical, ETag = MD5")
asyncio.run(main())
