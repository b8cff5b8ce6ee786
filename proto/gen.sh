#!/usr/bin/env bash
# Regenerates the Go code from the .proto files (Debian: protobuf-compiler,
# protoc-gen-go, protoc-gen-go-grpc). Run from anywhere; the output is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
protoc --go_out=. --go_opt=module=github.com/kmsd/kmsd \
  --go-grpc_out=. --go-grpc_opt=module=github.com/kmsd/kmsd \
  proto/command.proto proto/cluster.proto proto/admin.proto
