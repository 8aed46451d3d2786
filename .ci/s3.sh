# A real S3-compatible server for the tests that need one. Sourced by .ci/run.
#
# ensure_s3 installs moto's server mode from PyPI into a cached virtualenv
# (~/.cache/vigil-ci/moto), starts it on 127.0.0.1 (port $VIGIL_S3_PORT,
# default 9000) unless a server already answers there, checks that it honours
# conditional creates (If-None-Match: *), which the repository's locks and key
# rely on, and exports what the tests read:
#   VIGIL_TEST_S3_ENDPOINT  the server's http URL
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP
# It creates no bucket: each test makes its own.

ensure_s3() {
  local port="${VIGIL_S3_PORT:-9000}"
  local endpoint="http://127.0.0.1:$port"
  local venv="$HOME/.cache/vigil-ci/moto"
  local python="${PYTHON:-python3}"
  if [ ! -x "$venv/bin/moto_server" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5' boto3
  fi
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-vigil-test}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-vigil-test-secret}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ALLOW_HTTP=true
  if ! curl -fsS -o /dev/null "$endpoint/" 2>/dev/null; then
    local log="${TMPDIR:-/tmp}/vigil-s3-$port.log"
    nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    local up=0
    for _ in $(seq 1 60); do
      if curl -fsS -o /dev/null "$endpoint/" 2>/dev/null; then up=1; break; fi
      sleep 0.5
    done
    if [ "$up" != 1 ]; then
      cat "$log" >&2
      echo "the S3 server did not start on $endpoint" >&2
      return 1
    fi
  fi
  export VIGIL_TEST_S3_ENDPOINT="$endpoint"
  s3_check_conditional_put "$venv/bin/python" "$endpoint"
}

# Fails unless a second create of the same key with If-None-Match: * is
# refused with 412 Precondition Failed.
s3_check_conditional_put() {
  "$1" - "$2" <<'PY'
import sys, uuid
import boto3
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
bucket = "vigil-ci-check-" + uuid.uuid4().hex[:12]
s3.create_bucket(Bucket=bucket)
try:
    s3.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] != 412:
            raise
    else:
        sys.exit("the S3 server ignores If-None-Match: * (conditional create)")
finally:
    for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=o["Key"])
    s3.delete_bucket(Bucket=bucket)
PY
}
