#!/usr/bin/env bash
# Takes llama.cpp v0.5.0's prebuilt Linux x86-64 libraries from the npm registry
# (@node-llama-cpp/linux-x64, MIT) into target/natives; bnd.bnd packs them. npm's own cache
# makes a rebuild work offline once the package has been fetched.
set -euo pipefail
out="$1"
pkg="@node-llama-cpp/linux-x64@3.22.1"
mkdir -p "$out/pack" "$out/natives"
if [ ! -f "$out/natives/.done" ]; then
  (cd "$out/pack" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$out"/pack/node-llama-cpp-linux-x64-3.22.1.tgz -C "$out/pack"
  cp "$out"/pack/package/bins/linux-x64/lib*.so "$out/natives/"
  rm "$out/natives/libllama-common.so" # llama.cpp common/ helpers: nothing we load links it
  cp "$out"/pack/package/LICENSE "$out/natives/LICENSE-node-llama-cpp"
  touch "$out/natives/.done"
fi
