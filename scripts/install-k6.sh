#!/usr/bin/env bash
# Installs the pinned k6 release into DIR (default ~/.local/bin) after checking the archive
# against the SHA-256 the release publishes; a mismatch installs nothing and exits 1.
#
#   bash scripts/install-k6.sh [DIR]
#
# The deployment pipeline's k6 steps run it (CodeBuild, linux x86_64); GitHub CI installs the
# same version through grafana/setup-k6-action (a test keeps the two equal). K6_ARCHIVE names an
# archive already on disk instead of downloading it; it is checked all the same.
set -euo pipefail

readonly K6_VERSION=2.3.0
# k6-v2.3.0-linux-amd64.tar.gz in the release's k6-v2.3.0-checksums.txt.
readonly K6_SHA256=39c3117b6af817592dcd0ce4242105c0a7af10948c2a425306f0be8f7a8a8ab1
readonly NAME="k6-v${K6_VERSION}-linux-amd64"
readonly URL="https://github.com/grafana/k6/releases/download/v${K6_VERSION}/${NAME}.tar.gz"

die() {
  echo "install-k6: $*" >&2
  exit 1
}

dir=${1:-${HOME:?HOME must be set}/.local/bin}
[[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] ||
  die "only the linux x86_64 archive is pinned; install k6 ${K6_VERSION} by hand on $(uname -s) $(uname -m)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
archive=${K6_ARCHIVE:-}
if [[ -z $archive ]]; then
  archive="$tmp/${NAME}.tar.gz"
  curl --fail --silent --show-error --location --retry 3 --output "$archive" "$URL" ||
    die "download of $URL failed"
fi
printf '%s  %s\n' "$K6_SHA256" "$archive" | sha256sum --check --status ||
  die "$archive does not have the SHA-256 of k6 ${K6_VERSION} (${K6_SHA256}): not installed"

tar -xzf "$archive" -C "$tmp" "${NAME}/k6"
mkdir -p "$dir"
install -m 0755 "$tmp/${NAME}/k6" "$dir/k6"
echo "install-k6: $("$dir/k6" version | head -n 1) in $dir"
