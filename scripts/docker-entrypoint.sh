#!/bin/sh
# The image's entrypoint: prepare the runtime directory, then become `lsvd run` (exec, so the
# init's signals reach the daemon directly). Arguments are passed on: `docker run ... --size 20GiB`.
# Configuration comes from the environment (LSVD_*, AWS_*, BUCKET_NAME, FLY_LSVD_*; docs/CLI.md).
set -eu
run_directory="${LSVD_RUN_DIR:-/run/lsvd}"
mkdir -p "$run_directory"
exec node "${LSVD_HOME:-/app}/bin/lsvd.js" run "$@"
