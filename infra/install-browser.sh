#!/usr/bin/env bash
# Headless Chromium and its chromedriver for the console's browser test
# (e2e/console/), from Debian's packages: Playwright's and Chrome for
# Testing's downloads are unreachable here. Idempotent: does nothing when
# both are installed. Debian's archive keeps only its current build of
# chromium (security updates replace it), so the version is Debian's, not a
# pin of ours; the test prints the version it ran.
set -euo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "The console's browser test needs Chromium and chromedriver. As root, run:" >&2
    echo "  apt-get update && apt-get install -y chromium chromium-driver" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "No apt-get: install Chromium and a matching chromedriver (as chromium and chromedriver on PATH)." >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
chromium --version
chromedriver --version
