#!/usr/bin/env bash
# A virtualenv with moto's S3 server and boto3 (PyPI) at ${TD_VENV:-/tmp/td-venv},
# created when missing. Used by check_minio_upload.sh and by the host's
# remote_files test (an S3-compatible server on loopback).
set -euo pipefail
venv=${TD_VENV:-/tmp/td-venv}
if [[ ! -x $venv/bin/moto_server ]] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
    echo "moto_venv: creating $venv (boto3, moto[server])" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q boto3 'moto[server]'
fi
