# shellcheck shell=bash
# Puts Node 24 (what package.json `engines` asks for) first on PATH.
#
#   source scripts/ensure-node.sh      # .ci/run, or a developer's shell
#
# If `node` is not v24, installs the `node@24` npm package (a Node binary) into
# PLINTH_NODE_DIR (default ~/.cache/plinth-node) unless it is already there, and prepends its
# node_modules/.bin to PATH. Needs some `node` + `npm` to bootstrap from. Sourced into other
# shells, so it changes no shell options and returns (never exits) on failure.

plinth_ensure_node() {
  local dir="${PLINTH_NODE_DIR:-${HOME:?HOME must be set}/.cache/plinth-node}"
  local bin="$dir/node_modules/.bin"

  if [[ "$(node -v 2>/dev/null)" != v24.* ]]; then
    if [[ "$("$bin/node" -v 2>/dev/null)" != v24.* ]]; then
      command -v npm >/dev/null 2>&1 || {
        echo "ensure-node: need npm (any version) to install Node 24; install Node.js first" >&2
        return 1
      }
      echo "ensure-node: node is $(node -v 2>/dev/null || echo missing); installing node@24 into $dir"
      # Several shells starting at once (parallel jobs) would race in one npm tree: one installs
      # under a lock while the others wait, then find it there.
      if ! mkdir -p "$dir" || ! (
        command -v flock >/dev/null 2>&1 && flock 9
        [[ "$("$bin/node" -v 2>/dev/null)" == v24.* ]] ||
          npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error node@24
      ) 9>"$dir/.install.lock"; then
        echo "ensure-node: npm install node@24 into $dir failed" >&2
        return 1
      fi
    fi
    export PATH="$bin:$PATH"
    hash -r
  fi

  local version
  version="$(node -v 2>/dev/null)"
  if [[ $version != v24.* ]]; then
    echo "ensure-node: expected Node v24.x on PATH, got '${version:-none}'" >&2
    return 1
  fi
  echo "ensure-node: using node $version ($(command -v node))"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # Run rather than sourced: the PATH change cannot reach the caller, so say how to get it.
  set -euo pipefail
  plinth_ensure_node
  echo "ensure-node: in your shell, run: source scripts/ensure-node.sh"
else
  plinth_ensure_node
fi
