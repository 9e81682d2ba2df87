#!/bin/sh
# Removes native binaries for other platforms from a production node_modules (image size):
# onnxruntime-node ships darwin/win32/linux-arm64 builds, @temporalio/core-bridge one per target triple.
#   prune-native.sh NODE_MODULES_DIR
set -eu
modules="${1:?usage: prune-native.sh NODE_MODULES_DIR}"
case "$(uname -m)" in
  x86_64) ort_arch=x64; triple=x86_64-unknown-linux-gnu ;;
  aarch64) ort_arch=arm64; triple=aarch64-unknown-linux-gnu ;;
  *) echo "prune-native.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
for napi in "$modules"/onnxruntime-node/bin/napi-v*; do
  [ -d "$napi" ] || continue
  rm -rf "$napi/darwin" "$napi/win32"
  for arch in "$napi"/linux/*; do
    [ "$(basename "$arch")" = "$ort_arch" ] || rm -rf "$arch"
  done
done
releases="$modules/@temporalio/core-bridge/releases"
if [ -d "$releases" ]; then
  for target in "$releases"/*; do
    [ "$(basename "$target")" = "$triple" ] || rm -rf "$target"
  done
fi
echo "prune-native.sh: kept linux/$ort_arch onnxruntime-node and $triple core-bridge binaries"
