#!/usr/bin/env bash
# The project's test command (the README's "run the tests"): starts what the
# tests need that a fresh machine lacks, then runs every test of the
# workspace with cargo-nextest's `ci` profile, in which a test that cannot
# reach PostgreSQL, MariaDB or the S3 server fails and names the variable to
# set. Extra arguments go to `cargo nextest run`.
set -euo pipefail
cd "$(dirname "$0")/.."

. .ci/services.sh
ensure_postgres
ensure_mariadb
export VIGIL_TEST_POSTGRES_URL="${VIGIL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/vigil_test}"
export VIGIL_TEST_MYSQL_URL="${VIGIL_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"
create_postgres_database vigil_test
if [ -f .ci/s3.sh ]; then
  . .ci/s3.sh
  ensure_s3
fi

. .ci/promtool.sh
ensure_promtool

exec cargo nextest run --workspace --profile ci "$@"
