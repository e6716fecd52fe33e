#!/usr/bin/env bash
# Install siting into ./.venv (editable, so the embedded layers/ stay where the code finds them).
#   ./install.sh        the tool
#   ./install.sh test   the tool and what the tests need (with Debian's chromium and chromedriver
#                       for the browser tests of the web map, and python3-qgis for the QGIS tests)
# On a bare Debian, Python's venv module is a separate package: installed here when missing.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
debian=()
"$python" -c "import ensurepip, venv" 2>/dev/null || debian+=(python3-venv)
if [ "${1:-}" = test ]; then
    command -v chromium >/dev/null || debian+=(chromium)
    command -v chromedriver >/dev/null || debian+=(chromium-driver)
    # QGIS 3.22 for the tests that open the outputs in a real QGIS (PyQGIS is Debian's Python's)
    /usr/bin/python3 -c "import qgis.core" 2>/dev/null || debian+=(python3-qgis)
fi
if [ ${#debian[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${debian[@]}" >/dev/null
    else
        echo "install.sh: missing Debian packages: sudo apt-get install ${debian[*]}" >&2
        exit 1
    fi
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = test ]; then
    .venv/bin/python -m pip install -q -e ".[test]"
else
    .venv/bin/python -m pip install -q -e .
fi
