#!/usr/bin/env bash
# Installs kuvasz-streamer as a systemd service, as root:
#   sudo bash docs/deploy/install.sh [path/to/kuvasz-streamer.mjs]
# (default: apps/streamer/dist/kuvasz-streamer.mjs of this checkout; build it
# with `pnpm --filter kuvasz-streamer build`, or take it from the npm package
# kuvasz-streamer). Idempotent: run it again to upgrade the bundle.
#
# Creates the system user kuvasz, /opt/kuvasz-streamer (the bundle),
# /etc/kuvasz-streamer (configuration and secrets, readable by kuvasz only),
# and the unit; systemd makes /var/lib/kuvasz-streamer (StateDirectory=).
# It does not start the service: write the configuration first.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bundle="${1:-$here/../../apps/streamer/dist/kuvasz-streamer.mjs}"
node_bin=/usr/bin/node

[[ "$(id -u)" == 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }
[[ -f "$bundle" ]] || { echo "install.sh: no bundle at $bundle; build it or pass its path" >&2; exit 1; }
# The unit runs /usr/bin/node; the CLI needs 20.19 or later (Debian 12's nodejs is 18).
if ! "$node_bin" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
  echo "install.sh: $node_bin is missing or older than Node.js 20.19 ($("$node_bin" --version 2>/dev/null || echo none)); install Node.js 20.19+ (e.g. from nodejs.org or NodeSource) as $node_bin" >&2
  exit 1
fi

if ! id -u kuvasz >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/kuvasz-streamer --no-create-home \
    --shell /usr/sbin/nologin --comment "kuvasz-streamer" kuvasz
fi
install -d -m 0755 -o root -g root /opt/kuvasz-streamer
install -m 0755 -o root -g root "$bundle" /opt/kuvasz-streamer/kuvasz-streamer.mjs
install -d -m 0750 -o root -g kuvasz /etc/kuvasz-streamer
if [[ ! -e /etc/kuvasz-streamer/env ]]; then
  install -m 0640 -o root -g kuvasz /dev/null /etc/kuvasz-streamer/env
  echo '# Secrets for ${VAR} in streamer.yaml, e.g. DEST_PASSWORD=...' > /etc/kuvasz-streamer/env
fi
install -m 0644 -o root -g root "$here/kuvasz-streamer.service" /etc/systemd/system/kuvasz-streamer.service
ln -sf /opt/kuvasz-streamer/kuvasz-streamer.mjs /usr/local/bin/kuvasz-streamer
systemctl daemon-reload

cat <<'DONE'
Installed. Next:
  1. write /etc/kuvasz-streamer/streamer.yaml (kuvasz-streamer help) and the secrets in /etc/kuvasz-streamer/env
  2. check it:  sudo -u kuvasz bash -c 'set -a; . /etc/kuvasz-streamer/env; kuvasz-streamer validate -c /etc/kuvasz-streamer/streamer.yaml'
  3. start it:  systemctl enable --now kuvasz-streamer   (logs: journalctl -u kuvasz-streamer -f)
DONE
