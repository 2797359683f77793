#!/usr/bin/env bash
# Builds every Lambda as SAM deploys it (make functions): `cargo lambda build --release
# --arm64` of all functions/* in one cargo invocation, zipped, then reports each zip's size
# against the 5 MB target. The zips are in target/lambda/<binary>/bootstrap.zip.
set -euo pipefail

cd "$(dirname "$0")/../.."
CARGO_LAMBDA_VENV=${CARGO_LAMBDA_VENV:-.tools/cargo-lambda-1.9.2}
TARGET=aarch64-unknown-linux-gnu
LIMIT=$((5 * 1024 * 1024))

[[ -x $CARGO_LAMBDA_VENV/bin/cargo-lambda ]] || { echo "functions: $CARGO_LAMBDA_VENV is missing: run make deps" >&2; exit 2; }
# cargo-lambda's venv brings zig, the cross linker.
export PATH="$PWD/$CARGO_LAMBDA_VENV/bin:$PATH"

if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi

packages=()
for dir in functions/*/; do
  packages+=(-p "dtg-fn-$(basename "$dir")")
done

cargo lambda build --release --arm64 --output-format zip --locked "${packages[@]}"

status=0
printf '%-18s %10s\n' function 'zip bytes'
for dir in functions/*/; do
  name=$(basename "$dir")
  zip=target/lambda/$name/bootstrap.zip
  if [[ ! -f $zip ]]; then
    echo "functions: $zip was not built" >&2
    status=1
    continue
  fi
  size=$(stat -c %s "$zip")
  flag=""
  if ((size > LIMIT)); then
    flag="  over the 5 MB target"
  fi
  printf '%-18s %10d  (%s MB)%s\n' "$name" "$size" "$(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1048576 }')" "$flag"
done
exit $status
