#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh machine, then runs all of it:
# Python packages (pinned), Debian's Chromium for the browser test, ruff, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
if ! [ -x /usr/bin/chromium ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium > /dev/null
fi
ruff check .
python -m pytest "$@"
