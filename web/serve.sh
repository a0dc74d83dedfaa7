# Sourced by e2e.sh and bench.sh: installs Debian's Chromium and Playwright's driver where missing,
# serves web/dist on a free localhost port until the script exits, and sets PAGE_URL to it.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) ||
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
fi
if [ ! -d web/node_modules/playwright-core ] || [ ! -d web/node_modules/binaryen ]; then
  (cd web && npm ci --no-audit --no-fund --silent)
fi

port="${E2E_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
python3 -m http.server --directory web/dist --bind 127.0.0.1 "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/" >/dev/null && break
  sleep 0.1
done
PAGE_URL="http://127.0.0.1:$port/"
