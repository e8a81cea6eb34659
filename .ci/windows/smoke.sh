#!/usr/bin/env bash
# The Windows smoke suite: cross-build sepkg.exe, run it under Wine, and
# compare what it does with the Linux build, byte for byte.
#
#   bash .ci/windows/smoke.sh [--install]
#
# --install (what .ci/run passes): apt-get install Debian's mingw-w64 and
# wine64, and rustup target add x86_64-pc-windows-gnu, when missing.
# Each case runs the Linux build in one folder and sepkg.exe in a twin
# folder holding the same inputs, with the same arguments (`\` separators
# for sepkg.exe), then compares the exit codes, stdout and stderr (after
# writing `/` for `\` and ROOT for the case folder) and every file in the
# two folders by SHA-256 (masked: the publish time in index.json and the
# HTML pages, and the path separators in the HTML), so a leftover
# temporary file is a failure too. A few cases run sepkg.exe alone, where
# what is right on Windows differs from Linux.
#
# The last line is one of:
#   windows: PASSED (N checks; ...)      exit 0
#   windows: SKIPPED (reason)            exit 0: no target, mingw or Wine
#   windows: FAILED (N of M checks; ...) exit 1
#
# SEPKG_WINDOWS_PROFILE=release runs it on the release binary (default: the
# windows-smoke profile of .cargo/config.toml). SEPKG_WINDOWS_KEEP=1 keeps
# the work folder.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-target}")
TARGET=x86_64-pc-windows-gnu
PROFILE=${SEPKG_WINDOWS_PROFILE:-windows-smoke}
PINNED=43e0ab4307d46d365e60bedc3a91e4cf7f93803e0ea01eec241f52e87ff773ea
EXAMPLE=SEP-14.3.8289.5000-x64-client

skip() {
  echo
  echo "######## windows: SKIPPED ($1) ########"
  echo "windows: SKIPPED ($1)"
  exit 0
}

# --- Tools -------------------------------------------------------------------
if [ "${1:-}" = "--install" ]; then
  if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! { [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || command -v wine >/dev/null; }; then
    if command -v apt-get >/dev/null; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gcc-mingw-w64-x86-64 wine64; } >/dev/null 2>&1 ||
        echo "   apt-get install gcc-mingw-w64-x86-64 wine64 failed"
    fi
  fi
  if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    rustup target add "$TARGET" >/dev/null 2>&1 || echo "   rustup target add $TARGET failed"
  fi
fi
command -v x86_64-w64-mingw32-gcc >/dev/null || skip "no x86_64-w64-mingw32-gcc: apt-get install gcc-mingw-w64-x86-64"
if [ -x /usr/lib/wine/wine64 ]; then WINE=/usr/lib/wine/wine64   # Debian's wine64, without the wine32 nag
elif command -v wine64 >/dev/null; then WINE=$(command -v wine64)
elif command -v wine >/dev/null; then WINE=$(command -v wine)
else skip "no Wine: apt-get install wine64"; fi
command -v wineboot >/dev/null && command -v wineserver >/dev/null || skip "no wineboot/wineserver beside $WINE"
if command -v rustup >/dev/null; then
  rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || skip "Rust target $TARGET not installed: rustup target add $TARGET"
else
  rustc --print target-libdir --target "$TARGET" >/dev/null 2>&1 || skip "no Rust standard library for $TARGET"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/sepkg-windows.XXXXXX")
export WINEPREFIX=$W/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree=;mshtml="
SERVERS=()
cleanup() {
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null; done
  wineserver -k >/dev/null 2>&1 || true   # this prefix's server only
  if [ "${SEPKG_WINDOWS_KEEP:-}" = 1 ]; then echo "   (work folder kept: $W)"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# --- Builds ------------------------------------------------------------------
echo "== windows: Linux build, smoke inputs and sepkg.exe ($PROFILE profile)"
start=$SECONDS
cargo build --locked --quiet --bin sepkg || { echo "windows: FAILED (Linux build)"; exit 1; }
LINUX=$TARGET_DIR/debug/sepkg
cargo run --locked --quiet --example windows_smoke_inputs -- "$W/inputs" >/dev/null ||
  { echo "windows: FAILED (smoke inputs)"; exit 1; }
t0=$SECONDS
cargo build --locked --quiet --profile "$PROFILE" --target "$TARGET" --bin sepkg ||
  { echo "windows: FAILED (cross-build of sepkg.exe)"; exit 1; }
build_s=$((SECONDS - t0))
# The Windows-only code paths, tests included, through clippy as on Linux
# (cfg(unix) code is not compiled there, so a Linux clippy cannot see them).
cargo clippy --locked --quiet --target "$TARGET" --all-targets -- -D warnings ||
  { echo "windows: FAILED (clippy for $TARGET: a Windows-only code path or test does not build cleanly)"; exit 1; }
case $PROFILE in dev) dir=debug ;; *) dir=$PROFILE ;; esac
mkdir -p "$W/bin"
cp "$TARGET_DIR/$TARGET/$dir/sepkg.exe" "$W/bin/" || { echo "windows: FAILED (no sepkg.exe under $TARGET_DIR/$TARGET/$dir)"; exit 1; }
x86_64-w64-mingw32-gcc -shared -O2 -s -o "$W/bin/bcryptprimitives.dll" .ci/windows/processprng.c -ladvapi32 ||
  { echo "windows: FAILED (ProcessPrng stand-in)"; exit 1; }
echo "   sepkg.exe: $(stat -c %s "$W/bin/sepkg.exe") bytes, cross-built in ${build_s} s"

# --- Wine --------------------------------------------------------------------
t0=$SECONDS
wineboot -i >/dev/null 2>&1
wineserver -p >/dev/null 2>&1   # one server for every run below, until cleanup
# A program that needs nothing tells a Wine that cannot run programs here
# (skipped) from a sepkg.exe that does not start (failed).
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$W/hello.c"
x86_64-w64-mingw32-gcc -o "$W/bin/hello.exe" "$W/hello.c" && "$WINE" "$W/bin/hello.exe" 2>/dev/null | grep -q hello ||
  skip "$("$WINE" --version 2>/dev/null) cannot run a Windows program here"
"$WINE" "$W/bin/sepkg.exe" --version >/dev/null 2>&1 ||
  { echo "windows: FAILED (sepkg.exe does not start under $("$WINE" --version 2>/dev/null))"; exit 1; }
echo "   Wine: $("$WINE" --version 2>/dev/null), prefix ready in $((SECONDS - t0)) s"
[ -e "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ] ||
  echo "   (this Wine has no bcryptprimitives.dll: sepkg.exe runs with the ProcessPrng stand-in)"

# --- Case folders ------------------------------------------------------------
for side in lin win; do
  mkdir -p "$W/$side/fixtures" "$W/$side/out" "$W/$side/other" "$W/$side/www" "$W/$side/www2"
  cp "$REPO/fixtures/$EXAMPLE.zip" "$REPO/fixtures/sylink-managed.xml" "$W/$side/fixtures/"
  cp -r "$W/inputs" "$W/$side/in"
  head -c 5000 "$REPO/fixtures/$EXAMPLE.zip" >"$W/$side/in/truncated.zip"
done
# Z: is / in a Wine prefix.
winpath() { printf 'Z:%s' "${1//\//\\}"; }
WROOT=$(winpath "$W/win")

pass=0
fail=0
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "   FAIL $case: $*"; }

# Arguments: @ROOT@ stands for the case folder (an absolute path: /...
# for Linux, Z:\... for sepkg.exe); sepkg.exe gets `\` in every path (an
# argument with no `://`).
run_lin() {
  local a args=()
  for a in "$@"; do args+=("${a//@ROOT@/$W/lin}"); done
  (cd "$W/lin" && "$LINUX" "${args[@]}" >"$W/l.out" 2>"$W/l.err"); LRC=$?
}
run_win() {
  local a args=()
  for a in "$@"; do
    case $a in
      *://*) args+=("$a") ;;
      *) a=${a//\//\\}; args+=("${a//@ROOT@/$WROOT}") ;;
    esac
  done
  (cd "$W/win" && "$WINE" "$W/bin/sepkg.exe" "${args[@]}" >"$W/w.out" 2>"$W/w.err"); WRC=$?
  # sepkg prints something whenever it exits non-zero; a non-zero exit with
  # no output at all is Wine failing to start the process (seen once, on a
  # fresh prefix on a loaded machine, at the first network use). Run it once
  # more, and say so, rather than report it as sepkg's.
  if [ "$WRC" != 0 ] && [ ! -s "$W/w.out" ] && [ ! -s "$W/w.err" ]; then
    echo "   (Wine gave exit $WRC with no output for: sepkg ${args[*]}; run again)"
    (cd "$W/win" && "$WINE" "$W/bin/sepkg.exe" "${args[@]}" >"$W/w.out" 2>"$W/w.err"); WRC=$?
  fi
}

# Output text with `/` for `\` (and for JSON's `\\`, on both sides alike)
# and ROOT for the case folder.
normal() {
  sed -e 's#\\\\#/#g' -e 's#\\#/#g' -e "s#Z:$W/win#ROOT#g" -e "s#$W/lin#ROOT#g" -e "s#$W/win#ROOT#g" "$1"
}

# Every file of both folders, by name and SHA-256. Masked in the HTML
# files and index.json: the publish time, and `/` for `\` (an --html
# report names the input as given: `fixtures&#x2f;X` or `fixtures\X`).
tree() {
  (cd "$1" && {
    # Windows keeps the empty lock files (.OUT.lock beside a transform's
    # output, WEBROOT/.sepkg.lock) that Linux removes: see the README's
    # "What is different on Windows". They are left out here, as verify
    # leaves them out.
    find . -path ./in -prune -o -type f ! -name '*.html' ! -name index.json ! -name '.*.lock' -print0 | xargs -0r sha256sum
    find . -path ./in -prune -o -type f \( -name '*.html' -o -name index.json \) -print | while read -r f; do
      sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/TIME/g' -e 's#&\#x2f;#/#g' -e 's#\\#/#g' "$f" |
        sha256sum | sed "s#-\$#$f#"
    done
  } | LC_ALL=C sort -k2)
}

# A difference is reported by the case that made it, and once.
: >"$W/tree.seen"
same_trees() {
  diff <(tree "$W/lin") <(tree "$W/win") >"$W/tree.diff"
  if cmp -s "$W/tree.diff" "$W/tree.seen"; then ok; else
    bad "the two folders differ (< Linux, > Windows):"; sed 's/^/        /' "$W/tree.diff" | head -20
    cp "$W/tree.diff" "$W/tree.seen"
  fi
}

# both NAME RC ARGS...: the same command on both builds; RC is the exit
# code both must give.
both() {
  case=$1 want=$2; shift 2
  local before=$fail s t=$EPOCHREALTIME
  run_lin "$@"
  run_win "$@"
  [ "$LRC" = "$want" ] && ok || bad "Linux exit $LRC, expected $want: $(head -c 300 "$W/l.err")"
  [ "$WRC" = "$want" ] && ok || bad "Windows exit $WRC, expected $want: $(head -c 300 "$W/w.err")"
  for s in out err; do
    if cmp -s "$W/l.$s" "$W/w.$s" || cmp -s <(normal "$W/l.$s") <(normal "$W/w.$s"); then ok; else
      bad "std$s differs (< Linux, > Windows):"; diff <(normal "$W/l.$s") <(normal "$W/w.$s") | head -10 | sed 's/^/        /'
    fi
  done
  same_trees
  [ "$fail" -eq "$before" ] && echo "   ok   $case (exit $WRC, $(elapsed "$t") s)"
  return 0
}

# windows_only NAME RC TEXT ARGS...: sepkg.exe alone (what is right on
# Windows differs from Linux); RC and TEXT on stderr expected, and the
# folder unchanged.
windows_only() {
  case=$1 want=$2 text=$3; shift 3
  local before=$fail t=$EPOCHREALTIME
  run_win "$@"
  [ "$WRC" = "$want" ] && ok || bad "Windows exit $WRC, expected $want: $(head -c 300 "$W/w.err")"
  grep -qF -- "$text" "$W/w.err" && ok || bad "stderr lacks \"$text\": $(head -c 300 "$W/w.err")"
  same_trees
  [ "$fail" -eq "$before" ] && echo "   ok   $case (exit $WRC, $(elapsed "$t") s)"
  return 0
}

# expect out|err TEXT: the last case printed TEXT there, on both builds.
expect() {
  if grep -qF -- "$2" "$W/l.$1" && grep -qF -- "$2" "$W/w.$1"; then ok; else bad "std$1 lacks \"$2\""; fi
}

# --- Cases -------------------------------------------------------------------
echo "== windows: smoke suite, sepkg.exe under Wine against the Linux build"
t0=$SECONDS
Z=fixtures/$EXAMPLE.zip
S=fixtures/sylink-managed.xml
M=$EXAMPLE-managed.zip

both "--version" 0 --version
both "usage error" 2 transform
# The README quick start, with the pinned hash.
both "quick start: transform $Z" 0 transform "$Z" --sylink "$S"
for side in lin win; do
  got=$(sha256sum <"$W/$side/$M" | cut -c1-64)
  [ "$got" = "$PINNED" ] && ok || bad "$side: $M has sha256 $got, not the README's $PINNED"
done
(cd "$W/win" && sha256sum -c --quiet "$M.sha256") && ok || bad "sha256sum -c rejects sepkg.exe's $M.sha256"
both "transform again: nothing changes" 0 transform "$M" --sylink "$S" -o out/again.zip
cmp -s "$W/win/$M" "$W/win/out/again.zip" && ok || bad "a second transform changed the bytes"
both "transform --json" 0 transform "$Z" --sylink "$S" -o out/json.zip --json
both "drive letters and \\ in every path" 0 transform "@ROOT@/$Z" --sylink "@ROOT@/$S" -o "@ROOT@/out/absolute.zip"
grep -qF -- "$WROOT\\out\\absolute.zip" "$W/w.out" && ok || bad "sepkg.exe's report does not name $WROOT\\out\\absolute.zip"

both "audit of the bundled example" 1 audit "$Z" --from-version 14.3.8289.1000
expect out "ERROR    self-managed-after-upgrade"
both "audit --json of the bundled example" 1 audit --json "$Z"
both "audit --html" 1 audit "$Z" --html out/report.html
both "audit of the transformed package" 0 audit --json "$M"

both "--to exe --stub" 0 transform "$Z" --sylink "$S" --to exe --stub in/stub.exe -o out/setup.exe
both "audit --json of the .exe" 0 audit --json out/setup.exe
both "exe -> exe (its own stub)" 0 transform out/setup.exe --sylink "$S" -o out/again.exe
both "--to cab" 0 transform "$Z" --sylink "$S" --to cab -o out/SEP.cab
both "audit --json of the cabinet" 0 audit --json out/SEP.cab
both "cab -> zip" 0 transform out/SEP.cab --sylink "$S" --to zip -o out/from-cab.zip
both "--to dir" 0 transform "$Z" --sylink "$S" --to dir -o out/SEPdir
both "folder -> zip (a folder sepkg.exe wrote)" 0 transform out/SEPdir --sylink "$S" -o out/from-dir.zip
both "folder export -> zip" 0 transform in/export --sylink "$S" -o out/export.zip
both "two package roots, --json" 0 transform in/two-roots.zip --sylink "$S" -o out/two.zip --json
both "batch --out-dir" 0 transform "$Z" in/two-roots.zip --sylink "$S" --out-dir out

# Publish into a folder, verify it, replace a package (a rename over an
# existing file, with its hard-linked backup), catch a changed byte.
both "transform a second build" 0 transform "$Z" --sylink "$S" --setaid CUSTOM_SMC_CONFIG.Tag=2 -o "other/$M"
both "publish" 0 publish "$M" out/setup.exe --to www --base-url https://web.example.com/sep/
(cd "$W/win/www" && sha256sum -c --quiet SHA256SUMS) && ok || bad "sha256sum -c rejects sepkg.exe's SHA256SUMS"
both "verify the web root" 0 verify www
both "verify an artifact" 0 verify www/setup.exe
both "publish the same again: nothing written" 0 publish "$M" --to www
both "publish another file under the name" 2 publish "other/$M" --to www
both "publish --replace" 0 publish "other/$M" --to www --replace
both "verify after the replace" 0 verify www --json
# The web-root lifecycle (WEBROOT/.sepkg.lock taken and released, the
# staging folder made and removed, on Windows too), a --to dir output
# verified, and 7z written and read.
both "publish into a second web root" 0 publish "$M" out/setup.exe --to www2
both "unpublish" 0 unpublish setup.exe --from www2
both "reindex" 0 reindex www2
both "verify after unpublish and reindex" 0 verify www2
both "verify a --to dir output" 0 verify out/SEPdir
both "--to 7z" 0 transform "$Z" --sylink "$S" --to 7z -o out/SEP.7z
both "7z -> zip" 0 transform out/SEP.7z --sylink "$S" --to zip -o out/from-7z.zip
# The web root over HTTP and HTTPS (ureq, rustls and ring as built for
# Windows), served from 127.0.0.1 by Python, with a throwaway CA.
if command -v python3 >/dev/null && command -v openssl >/dev/null; then
  (
    cd "$W" &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=sepkg smoke CA" -keyout ca.key -out ca.pem &&
      openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out server.csr &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile server.ext -out cert.pem
  ) >/dev/null 2>&1
  cp "$W/ca.pem" "$W/lin/in/" && cp "$W/ca.pem" "$W/win/in/"
  serve() { # serve PORT [TLS]: the Linux side's web root; waits until it answers
    python3 -c '
import functools, http.server, ssl, sys
port, root = int(sys.argv[1]), sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.HTTPServer(("127.0.0.1", port), handler)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
' "$@" >/dev/null 2>&1 &
    SERVERS+=($!)
    for _ in $(seq 100); do
      python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null && return 0
      sleep 0.1
    done
    return 1
  }
  free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  HTTP=$(free_port) && serve "$HTTP" "$W/lin/www" || bad "no HTTP server on 127.0.0.1"
  HTTPS=$(free_port) && serve "$HTTPS" "$W/lin/www" "$W/cert.pem" "$W/key.pem" || bad "no HTTPS server on 127.0.0.1"
  both "verify over HTTP" 0 verify "http://127.0.0.1:$HTTP/$M"
  both "verify over HTTPS, a private CA: refused" 2 verify "https://localhost:$HTTPS/$M" --timeout 10
  expect err "invalid peer certificate"
  both "verify over HTTPS with --ca-cert" 0 verify "https://localhost:$HTTPS/$M" --ca-cert in/ca.pem --timeout 10
else
  echo "   (no python3 or openssl: verify over HTTP and HTTPS not run)"
fi

for side in lin win; do printf 'X' | dd of="$W/$side/www/setup.exe" bs=1 seek=2000 conv=notrunc status=none; done
both "verify a changed byte" 1 verify www

# Hostile input: exit 2, the message, nothing left behind.
both "hostile: drive letter in an entry" 2 transform in/drive.zip --sylink "$S" --to dir -o out/hostile
expect err 'entry "C:\\x": refused: the name starts with a drive letter'
both "hostile: \\..\\ in an entry" 2 transform in/backslash-dotdot.zip --sylink "$S" -o out/hostile.zip
both "hostile: truncated zip, --json" 2 transform --json in/truncated.zip --sylink "$S" -o out/hostile.zip
both "hostile: unmanaged sylink.xml" 2 transform "$Z" --sylink in/export/sylink.xml -o out/hostile.zip
both "audit of a hostile input" 2 audit in/drive.zip

# Right on Windows, where Linux rightly differs.
windows_only "-o naming the input in another letter case" 2 "would overwrite the input" \
  transform "$Z" --sylink "$S" -o "fixtures/${EXAMPLE,,}.zip"
windows_only "--to dir with a device name (aux.txt)" 2 '"aux.txt" is a device name on Windows (AUX)' \
  transform in/reserved.zip --sylink "$S" --to dir -o out/reserved
windows_only "--to dir with a trailing dot" 2 '"notes." ends with a dot' \
  transform in/trailing-dot.zip --sylink "$S" --to dir -o out/dotted

smoke_s=$((SECONDS - t0))
total=$((pass + fail))
summary="build ${build_s} s, smoke ${smoke_s} s, whole step $((SECONDS - start)) s; $PROFILE profile, $("$WINE" --version 2>/dev/null)"
if [ "$fail" -eq 0 ]; then
  echo "windows: PASSED ($total checks; $summary)"
else
  echo "windows: FAILED ($fail of $total checks; $summary)"
  exit 1
fi
