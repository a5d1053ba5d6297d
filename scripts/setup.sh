#!/usr/bin/env bash
# One-command set-up: Debian packages (when root on Debian), the pinned virtual environment, pbe_utils (editable).
# Idempotent: a stamp file records the hash of the requirement files, so a second run costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
need_browser=${PBE_BROWSER:-0}

apt_pkgs=()
[ -d /usr/share/datasets/fashion-mnist ] || [ -n "${PBE_DATA_DIR:-}" ] || apt_pkgs+=(dataset-fashion-mnist)
if [ "$need_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then apt_pkgs+=(chromium); fi
# the test suite also starts a throwaway PostgreSQL server for the shared composite search
if [ "$need_browser" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then apt_pkgs+=(postgresql); fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] apt-get install ${apt_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_pkgs[@]}" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_pkgs[@]}" >/dev/null; }
  else
    echo "[setup] not root on Debian: skipping ${apt_pkgs[*]} (Fashion-MNIST is then downloaded by torchvision)"
  fi
fi

stamp=.venv/.pbe-setup
want=$(cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)
install_test_extras() {  # the optional PostgreSQL driver, for the tests (not part of the default install)
  if [ "$need_browser" = 1 ] && ! .venv/bin/python -c "import psycopg2" >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q -c constraints.txt "psycopg2-binary" || echo "[setup] psycopg2 unavailable: the PostgreSQL test will be skipped"
  fi
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then install_test_extras; exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
echo "[setup] installing the pinned environment into .venv (a few minutes the first time)"
.venv/bin/python -m pip install -q -r requirements.txt -c constraints.txt
.venv/bin/python -m pip install -q --no-deps -e .
echo "$want" > "$stamp"
install_test_extras
