#!/usr/bin/env bash
# build-image.sh: build the kmsd container image (deploy/Dockerfile).
#
#   deploy/build-image.sh [TAG]        TAG defaults to kmsd:dev
#
# No image is pulled: the binaries are built here, static (CGO_ENABLED=0), into
# a temporary build context next to the Dockerfile and an empty data folder,
# and the image is FROM scratch. Needs go and docker. Set GOARCH to build for
# another architecture, VERSION to stamp the binaries (default: dev).
set -euo pipefail

tag=${1:-kmsd:dev}
version=${VERSION:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

(
	cd "$root"
	CGO_ENABLED=0 go build -trimpath \
		-ldflags="-s -w -X main.version=$version" \
		-o "$ctx/" ./cmd/kmsd ./cmd/kmsctl
)
cp "$root/deploy/Dockerfile" "$ctx/Dockerfile"
# Copied to /data with owner 65532: a named volume on /data starts out
# writable by the image's user.
mkdir -m 0700 "$ctx/data"

docker build --tag "$tag" --label "org.opencontainers.image.version=$version" "$ctx"
echo "build-image.sh: built $tag"
