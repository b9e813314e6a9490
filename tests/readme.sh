#!/usr/bin/env bash
# The README's first command, as a newcomer meets it (issue 16), run by .ci/run:
#
#   1. the README opens with exactly the two documented commands;
#   2. the first one, run verbatim in a fresh copy of the tree (the tracked files, as
#      a clone holds them) with an empty RUSTUP_HOME and CARGO_HOME, installs the
#      pinned toolchain itself and starts the demo;
#   3. the allowed and the refused curl commands the demo prints answer 200 (the echo
#      upstream's answer) and 403, and the audit commands it prints show the refusal;
#   4. Ctrl-C stops the demo.
#
# Cost: one toolchain download, the crates' download and one release build of
# tokengate. The build shares CARGO_TARGET_DIR when it is set (CI: the target
# directory of the other steps, whose guest builds it reuses); otherwise it builds in
# the copy. The demo listens on a free port (TOKENGATE_LISTEN=127.0.0.1:0) and prints
# commands for the port it got. KEEP=1 keeps the work directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIRST='rustup toolchain install && cargo run --release -- demo'
SECOND='bash .ci/run'
# Room for a cold release build on a loaded 2-core machine.
TIMEOUT=${README_TIMEOUT:-3600}

fail() {
  printf 'readme: FAIL: %s\n' "$*" >&2
  exit 1
}

# 1. The README's first block holds the two commands, each followed by its comment.
mapfile -t commands < <(awk '/^```/ { if (open) exit; open = 1; next } open' "$ROOT/README.md" |
  sed -E 's/[[:space:]]+#.*$//')
[[ ${#commands[@]} -eq 2 ]] || fail "the README's first block has ${#commands[@]} commands, not 2"
[[ ${commands[0]} == "$FIRST" ]] || fail "first command is '${commands[0]}', expected '$FIRST'"
[[ ${commands[1]} == "$SECOND" ]] || fail "second command is '${commands[1]}', expected '$SECOND'"
echo "readme: the two commands are the documented ones"

WORK=$(mktemp -d /tmp/tokengate-readme.XXXXXX)
DEMO=
cleanup() {
  if [[ -n $DEMO ]] && kill -0 "$DEMO" 2>/dev/null; then
    kill -TERM -- "-$DEMO" 2>/dev/null || true
    wait "$DEMO" 2>/dev/null || true
  fi
  if [[ ${KEEP:-0} == 1 ]]; then echo "readme: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# 2. A fresh copy: tracked (and new, not ignored) files only: no target/, no data.
COPY=$WORK/tokengate
mkdir -p "$COPY"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [[ -e $file ]] && printf '%s\0' "$file"; done |
  tar --null -T - -cf -) | tar -C "$COPY" -xf -

# A machine with only rustup, as rustup-init leaves it with no default toolchain:
# rustup and its proxies in CARGO_HOME/bin, nothing else. A copy of rustup, since
# `rustup toolchain install` may update itself.
rustup=$(command -v rustup) || fail "rustup is not installed"
export RUSTUP_HOME=$WORK/rustup CARGO_HOME=$WORK/cargo
mkdir -p "$RUSTUP_HOME" "$CARGO_HOME/bin"
cp "$(readlink -f "$rustup")" "$CARGO_HOME/bin/rustup"
for proxy in cargo cargo-clippy cargo-fmt rustc rustdoc rustfmt clippy-driver; do
  ln -s rustup "$CARGO_HOME/bin/$proxy"
done
export PATH=$CARGO_HOME/bin:$PATH
# As rustup 1.29 does by default: no implicit install of the pinned toolchain.
export RUSTUP_AUTO_INSTALL=0
unset RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET_DIR
export TOKENGATE_LISTEN=127.0.0.1:0
for name in $(compgen -v TOKENGATE_ || true); do
  [[ $name == TOKENGATE_LISTEN ]] || unset "$name"
done

started=$(date +%s)
(cd "$COPY" && exec setsid bash -c "$FIRST") >"$WORK/demo.out" 2>"$WORK/demo.err" </dev/null &
DEMO=$!
until grep -q '^Press Ctrl-C to stop' "$WORK/demo.out" 2>/dev/null; do
  if ! kill -0 "$DEMO" 2>/dev/null; then
    tail -40 "$WORK/demo.err" >&2
    fail "the first command stopped before the demo started"
  fi
  (($(date +%s) - started < TIMEOUT)) || fail "no demo after $TIMEOUT s"
  sleep 2
done
echo "readme: the demo started $(($(date +%s) - started)) s after the first command"
pinned=$(sed -nE 's/^channel = "(.*)"/\1/p' "$COPY/rust-toolchain.toml")
grep -q "^$pinned-" <<<"$(rustup toolchain list)" ||
  fail "the pinned toolchain $pinned is not in the clean RUSTUP_HOME"
echo "readme: the first command installed toolchain $pinned into the empty RUSTUP_HOME"

# 3. The commands the demo printed, as printed.
printed() { # the first indented curl/cargo line after the line starting with $1
  awk -v start="$1" 'index($0, start) == 1 { found = 1; next }
    found && /^  (curl|cargo) / { sub(/^  /, ""); print; exit }' "$WORK/demo.out"
}
run() { # runs a printed curl command, adding only -w to see its status last
  (cd "$COPY" && bash -c "$1 -w '\n%{http_code}'")
}
allowed=$(printed 'Allowed')
refused=$(printed 'Refused')
why=$(printed 'Why it was refused')
[[ -n $allowed && -n $refused && -n $why ]] || { cat "$WORK/demo.out" >&2; fail "the demo printed no curl commands"; }

answer=$(run "$allowed")
[[ ${answer##*$'\n'} == 200 ]] || fail "allowed: status ${answer##*$'\n'}: $answer"
grep -q '"path":"/rest/extender/1.0/user/getUserDetails/admin"' <<<"$answer" ||
  fail "allowed: not the echo upstream's answer: $answer"
grep -q '"x-forwarded-user":"admin"' <<<"$answer" || fail "allowed: no identity header upstream: $answer"
echo "readme: allowed command: 200, answered by the echo upstream"

answer=$(run "$refused")
[[ ${answer##*$'\n'} == 403 ]] || fail "refused: status ${answer##*$'\n'}: $answer"
echo "readme: refused command: 403"

answer=$(run "$why")
[[ ${answer##*$'\n'} == 200 ]] || fail "audit: status ${answer##*$'\n'}: $answer"
grep -q 'no-matching-rule' <<<"$answer" || fail "audit: the refusal's reason is missing: $answer"
cli=$(awk 'index($0, "Why it was refused") == 1 { found = 1; next }
  found && /^  cargo / { sub(/^  /, ""); print; exit }' "$WORK/demo.out")
[[ -n $cli ]] || fail "the demo printed no audit command line"
grep -q 'no-matching-rule' <<<"$(cd "$COPY" && bash -c "$cli" 2>/dev/null)" ||
  fail "'$cli' does not show the refusal"
echo "readme: both audit commands show the refusal's reason"

# 4. Ctrl-C (SIGINT to the command's process group, as a terminal sends it).
kill -INT -- "-$DEMO"
for _ in $(seq 100); do kill -0 "$DEMO" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$DEMO" 2>/dev/null; then fail "Ctrl-C did not stop the demo"; fi
status=0
wait "$DEMO" || status=$?
DEMO=
[[ $status -eq 0 || $status -eq 130 ]] || fail "the demo exited with $status after Ctrl-C"
echo "readme: Ctrl-C stopped the demo"
echo "readme: 1 passed, 0 failed"
