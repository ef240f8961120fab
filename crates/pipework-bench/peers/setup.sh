#!/usr/bin/env bash
# Creates the Python venv the benchmark peers run in, with pinned versions.
#
#   bash crates/pipework-bench/peers/setup.sh
#
# Idempotent: an existing venv whose pinned packages import is left as it is.
# Uses the machine's `python3` (or $PYTHON). Exit status is non-zero when any
# package cannot be installed; the harness then reports that peer's lines with
# an "error" field. Each package is installed on its own so that one failure
# does not keep the others out.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(dirname "$here")/.venv"
python="${PYTHON:-python3}"

pins=(
  "paipa==0.3.3"
  "abstractions==0.9.0"
  "asyncio-buffered-pipeline==0.0.8"
  "bytewax==0.21.1"
)

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || { echo "setup.sh: cannot create venv at $venv" >&2; exit 1; }
fi

status=0
# GNU parallel, the cli-per-key scenario's peer: a Debian package, not a
# Python one; installed where this runs as root.
if ! command -v parallel >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup.sh: installing GNU parallel" >&2
  apt-get install -y -qq parallel >&2 || { apt-get update -qq >&2 && apt-get install -y -qq parallel >&2; } || status=1
fi
for pin in "${pins[@]}"; do
  name="${pin%%==*}"
  want="${pin##*==}"
  have="$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')"
  if [ "$have" = "$want" ]; then
    continue
  fi
  echo "setup.sh: installing $pin" >&2
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$pin" >&2; then
    echo "setup.sh: could not install $pin" >&2
    status=1
  fi
done
# The pipework Python package, for the `pipework-py` system (the same peer
# scripts run against it): built from this checkout every time, so the
# figures are always the checkout's.
echo "setup.sh: installing pipework from crates/pipework-py" >&2
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$here/../../pipework-py" >&2; then
  echo "setup.sh: could not install crates/pipework-py" >&2
  status=1
fi
exit "$status"
