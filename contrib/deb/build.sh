#!/usr/bin/env bash
# Builds the Debian package, target/debian/stuckconn_<version>-1_<arch>.deb, as Cargo.toml's
# [package.metadata.deb] describes it: /usr/bin/stuckconn, its man page (gzipped by
# cargo-deb), bash/zsh/fish completions, the systemd units (installed, not enabled) and the
# Prometheus alert rules under /usr/share/stuckconn/prometheus/.
#
#   cargo install --locked cargo-deb      # once
#   contrib/deb/build.sh [cargo-deb options, e.g. --fast]
#   sudo apt install ./target/debian/stuckconn_*.deb
#
# Needs libpcap-dev (the default `capture` feature); the package then depends on libpcap0.8.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() {
    echo "contrib/deb/build.sh: $*" >&2
    exit 1
}

command -v cargo-deb >/dev/null || die "cargo-deb is not installed: cargo install --locked cargo-deb"

cargo build --locked --release
bin=target/release/stuckconn

# The completions come from the binary itself (clap_complete), so they match its flags.
comp=target/completions
mkdir -p "$comp"
for shell in bash zsh fish; do
    if ! "$bin" completions "$shell" >"$comp/tmp.$shell" 2>"$comp/err.$shell"; then
        why=$(head -n1 "$comp/err.$shell")
        rm -f "$comp/tmp.$shell" "$comp/err.$shell"
        die "\`stuckconn completions $shell\` failed, so there are no completions to package ($why)"
    fi
    rm -f "$comp/err.$shell"
    [ -s "$comp/tmp.$shell" ] || die "\`stuckconn completions $shell\` printed nothing"
done
mv "$comp/tmp.bash" "$comp/stuckconn.bash"
mv "$comp/tmp.zsh" "$comp/_stuckconn"
mv "$comp/tmp.fish" "$comp/stuckconn.fish"

# The binary was just built with the lock file: package it as it is.
cargo deb --no-build "$@"
