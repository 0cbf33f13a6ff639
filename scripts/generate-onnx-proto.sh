#!/usr/bin/env bash
# Regenerates Sources/TTLONNX/Proto/onnx.pb.swift from Sources/TTLONNX/Proto/onnx.proto.
# Needs protoc (Debian: protobuf-compiler) and builds protoc-gen-swift from the swift-protobuf
# checkout that `swift package resolve` fetched (1.39.0, the version Package.swift pins).
# The generated file is committed: builds never run this, and never use the SwiftProtobuf
# build plugin (it compiles protoc from source, ~10 minutes per clean build).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "needs protoc: apt-get install protobuf-compiler" >&2; exit 1; }
swift package resolve
checkout=.build/checkouts/swift-protobuf
swift build --package-path "$checkout" -c release --product protoc-gen-swift
protoc --plugin=protoc-gen-swift="$checkout/.build/release/protoc-gen-swift" \
    --swift_opt=Visibility=Public --swift_out=Sources/TTLONNX/Proto \
    -I Sources/TTLONNX/Proto Sources/TTLONNX/Proto/onnx.proto
echo "wrote Sources/TTLONNX/Proto/onnx.pb.swift"
