#!/bin/bash
# Alternating runs of bench_pairing.py: a git revision (checked out in a temporary worktree) against
# this working tree, N rounds, each run on fresh processes. The machine's CPU time per operation
# drifts by up to 2x between minutes; alternating keeps the comparison fair. Prints one table row a run.
#
#   bench/ab_pairing.sh REV [ROUNDS] [bench_pairing.py options]     e.g. bench/ab_pairing.sh 3486381 3
set -euo pipefail
rev=${1:?usage: bench/ab_pairing.sh REV [ROUNDS] [bench_pairing options]}
rounds=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")/.." && pwd)
base=$(mktemp -d /tmp/helpdesk-ab-XXXXXX)
trap 'git -C "$here" worktree remove --force "$base" >/dev/null 2>&1 || true' EXIT
git -C "$here" worktree add --detach -f "$base" "$rev" >/dev/null 2>&1
# the revision's packages, not this tree's (the virtual environment installs this tree's in place)
path=$base:$base/queue:$base/signaling:$base/knowledgebase:$base/remote-inspection:$base/agent-console
for _ in $(seq "$rounds"); do
  (cd "$base" && PYTHONPATH=$path "$here/.venv/bin/python" bench/bench_pairing.py --routing index "$@" 2>&1 \
     | grep -E '^\| [0-9]' | sed "s/^/$rev /")
  (cd "$here" && .venv/bin/python bench/bench_pairing.py --routing index "$@" 2>&1 \
     | grep -E '^\| [0-9]' | sed 's/^/this tree /')
done
