#!/usr/bin/env bash
# sepkg benchmark (SPEC section 4): builds sepkg in release mode, generates a
# synthetic 400 MB package (a 350 MB incompressible Sep64.msi, a few MB of
# setup files, a hundred small files, setAid.ini with KeepPreviousSetting=1,
# an unmanaged sylink.xml) as a zip and as a folder under bench-work/, then
# times, side by side, with medians over several runs:
#   floor    cp of the zip + sha256sum of the copy (and, since coreutils'
#            sha256sum may not use the CPU's SHA extensions, cp + openssl,
#            and cp + sync + openssl, durable as sepkg's output is)
#   shell    unzip, sed SetAid.ini, cp sylink.xml, zip -r, sha256sum
#   python   zipfile rewrite of every entry, replace the two files, hash
#   sepkg    transform zip -> zip, folder -> zip
#   7z       with 7zz: the same package as a 7-Zip single-file export (PE
#            stub, SFX config block, 7z archive by `7zz a` with its defaults:
#            solid LZMA2; and a `-ms=off` variant, a folder per file):
#            cp + sha256sum of the .exe, sepkg .exe -> .exe, and the shell
#            way (7zz x, sed, cp, 7zz a, prepend stub and config, sha256sum)
# with peak memory (max RSS, /usr/bin/time -v's figure) of each; then a batch
# of 8 packages of 50 MB (--out-dir, one job per core) against the same 8
# transformed one after another; and with --large, a 1.5 GB package through
# sepkg zip -> zip once, for its memory.
#
# Usage: bench/run.sh [--large] [--reps N] [--no-batch] [--no-7z] [--only-7z] [--keep]
# (the 7z shell way LZMA-encodes 350 MB: about two minutes a run, so it runs
# once unless --reps says otherwise; the two 7z inputs take about four
# minutes to make, once, and are kept in bench-work/)
# Figures are warm-cache: page caches cannot be dropped without root on a
# shared machine, so the inputs are read once before timing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
W="$ROOT/bench-work"
REPS=5
SHELL_REPS=3
LARGE=0
BATCH=1
KEEP=0
SEVENZ=1
ONLY7Z=0
SHELL7_REPS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --large) LARGE=1 ;;
        --reps) REPS=$2; SHELL_REPS=$2; SHELL7_REPS=$2; shift ;;
        --no-batch) BATCH=0 ;;
        --keep) KEEP=1 ;;
        --no-7z) SEVENZ=0 ;;
        --only-7z) ONLY7Z=1 ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

for tool in zip unzip python3 sha256sum /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install zip unzip python3 time)" >&2; exit 2; }
done

echo "building sepkg (release)..." >&2
(cd "$ROOT" && cargo build --release --locked --quiet)
SEPKG="$ROOT/target/release/sepkg"
SYLINK="$ROOT/fixtures/sylink-managed.xml"
GEN_VERSION=1

mkdir -p "$W"
# make_pkg NAME MSI_MB SEED: bench-work/NAME/ (folder) and bench-work/NAME.zip,
# reused when the generator has not changed.
make_pkg() {
    local name=$1 mb=$2 seed=$3
    local stamp="$W/$name.stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$GEN_VERSION $mb $seed" ] && [ -f "$W/$name.zip" ]; then
        return
    fi
    echo "generating $name ($mb MB MSI)..." >&2
    rm -rf "${W:?}/$name" "$W/$name.zip"
    python3 "$ROOT/bench/gen.py" "$W/$name" "$mb" "$seed"
    # zip -r deflates; incompressible files end up stored.
    (cd "$W/$name" && zip -q -r -X "$W/$name.zip" .)
    echo "$GEN_VERSION $mb $seed" > "$stamp"
}

OUT="$W/out"
RESULTS="$W/results.txt"
: > "$RESULTS"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure KEY REPS COMMAND: runs COMMAND (a bash string) REPS times with an
# empty $OUT, records the median wall time, the median CPU time (user +
# system: less sensitive than wall time to other work on the machine) and
# the median peak RSS.
measure() {
    local key=$1 reps=$2 cmd=$3 i times=() cpus=() mems=()
    for ((i = 0; i < reps; i++)); do
        rm -rf "$OUT"; mkdir -p "$OUT"
        if ! /usr/bin/time -f '%e %U %S %M' -o "$W/time.txt" bash -c "$cmd" >"$W/stdout.txt" 2>"$W/stderr.txt"; then
            echo "bench: $key failed:" >&2; cat "$W/stderr.txt" "$W/time.txt" >&2; exit 1
        fi
        read -r t u s m < <(tail -n 1 "$W/time.txt")
        times+=("$t"); mems+=("$m"); cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')")
    done
    local tmed cmed mmed
    tmed=$(printf '%s\n' "${times[@]}" | median)
    cmed=$(printf '%s\n' "${cpus[@]}" | median)
    mmed=$(printf '%s\n' "${mems[@]}" | median)
    echo "$key $tmed $mmed $cmed ${times[*]}" >> "$RESULTS"
    printf '  %-14s median %6.2f s (CPU %s s)  runs: %s  max RSS %s KB\n' "$key" "$tmed" "$cmed" "${times[*]}" "$mmed" >&2
}

make_pkg pkg400 350 400
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "warm-up: reading the inputs once" >&2
cat "$W/pkg400.zip" "$W"/pkg400/* "$W"/pkg400/Bin/* > /dev/null 2>&1 || true
"$SEPKG" transform "$W/pkg400.zip" --sylink "$SYLINK" -o "$W/warmup.zip" -q
(cd "$W" && sha256sum -c --quiet warmup.zip.sha256)
rm -f "$W"/warmup.zip*

ZIP="$W/pkg400.zip"
if [ "$ONLY7Z" = 0 ]; then
measure floor "$REPS" "cp '$ZIP' '$OUT/copy.zip' && sha256sum '$OUT/copy.zip'"
measure floor_ossl "$REPS" "cp '$ZIP' '$OUT/copy.zip' && openssl dgst -sha256 '$OUT/copy.zip'"
# sepkg fsyncs its output before renaming it into place (a crash never leaves
# a complete-looking but unwritten package), so the like-for-like floor syncs too.
measure floor_sync "$REPS" "cp '$ZIP' '$OUT/copy.zip' && sync '$OUT/copy.zip' && openssl dgst -sha256 '$OUT/copy.zip'"
measure shell "$SHELL_REPS" "set -e; mkdir '$OUT/x'; cd '$OUT/x'; unzip -q '$ZIP'; \
sed -i 's/^KeepPreviousSetting=1/KeepPreviousSetting=0/' setAid.ini; cp '$SYLINK' sylink.xml; \
zip -q -r -X ../shell.zip .; sha256sum ../shell.zip"
measure python "$SHELL_REPS" "python3 '$ROOT/bench/py_transform.py' '$ZIP' '$SYLINK' '$OUT/py.zip'"
measure sepkg_zip "$REPS" "'$SEPKG' transform '$ZIP' --sylink '$SYLINK' -o '$OUT/s.zip' -q"
measure sepkg_dir "$REPS" "'$SEPKG' transform '$W/pkg400' --sylink '$SYLINK' -o '$OUT/d.zip' -q"
if command -v gcab >/dev/null; then
    # The cabinet input is made by gcab (MSZIP), a tool nobody here wrote.
    CAB="$W/pkg400.cab"
    if [ ! -f "$CAB" ] || [ "$CAB" -ot "$W/pkg400.stamp" ]; then
        echo "generating pkg400.cab with gcab..." >&2
        (cd "$W/pkg400" && find . -type f | sed 's|^\./||' | sort | xargs gcab -c -z "$CAB")
    fi
    cat "$CAB" > /dev/null
    measure floor_cab "$REPS" "cp '$CAB' '$OUT/copy.cab' && sha256sum '$OUT/copy.cab'"
    measure sepkg_cab "$REPS" "'$SEPKG' transform '$CAB' --sylink '$SYLINK' -o '$OUT/c.cab' -q"
else
    echo "  (cab -> cab skipped: gcab is not installed)" >&2
fi

if [ "$LARGE" = 1 ]; then
    make_pkg pkg1500 1450 1500
    cat "$W/pkg1500.zip" > /dev/null
    measure sepkg_zip_1500 1 "'$SEPKG' transform '$W/pkg1500.zip' --sylink '$SYLINK' -o '$OUT/l.zip' -q"
    [ "$KEEP" = 1 ] || rm -rf "$W/pkg1500" "$W/pkg1500.zip" "$W/pkg1500.stamp"
fi

if [ "$BATCH" = 1 ]; then
    BATCH_IN=()
    for i in 1 2 3 4 5 6 7 8; do
        make_pkg "b$i" 45 "$((100 + i))"
        rm -rf "${W:?}/b$i"
        BATCH_IN+=("$W/b$i.zip")
    done
    cat "${BATCH_IN[@]}" > /dev/null
    measure batch "$SHELL_REPS" "'$SEPKG' transform ${BATCH_IN[*]} --sylink '$SYLINK' --out-dir '$OUT' -q"
    measure sequential "$SHELL_REPS" "for f in ${BATCH_IN[*]}; do '$SEPKG' transform \"\$f\" --sylink '$SYLINK' -o '$OUT/'\$(basename \"\$f\") -q; done"
fi
fi

# The 7-Zip single-file export: PE stub + SFX config block + 7z archive.
if [ "$SEVENZ" = 1 ] && command -v 7zz >/dev/null; then
    SFX_CFG="$W/sfx-config.txt"
    printf ';!@Install@!UTF-8!\nTitle="Symantec Endpoint Protection"\nRunProgram="setup.exe"\n;!@InstallEnd@!\n' > "$SFX_CFG"
    if [ ! -f "$W/stub/stub.exe" ]; then
        # The synthetic PE stub the Windows smoke suite uses (no vendor binary).
        (cd "$ROOT" && cargo run --release --locked --quiet --example windows_smoke_inputs -- "$W/stub") >/dev/null
    fi
    for variant in solid:"" ns:"-ms=off"; do
        v=${variant%%:*}; opt=${variant#*:}
        if [ ! -f "$W/pkg400-$v.exe" ] || [ "$W/pkg400-$v.exe" -ot "$W/pkg400.stamp" ]; then
            echo "generating pkg400-$v.exe (7zz a $opt, about two minutes)..." >&2
            rm -f "$W/pkg400-$v.7z"
            (cd "$W/pkg400" && 7zz a -bd -bso0 -y $opt "$W/pkg400-$v.7z" .)
            cat "$W/stub/stub.exe" "$SFX_CFG" "$W/pkg400-$v.7z" > "$W/pkg400-$v.exe"
            rm -f "$W/pkg400-$v.7z"
        fi
        cat "$W/pkg400-$v.exe" > /dev/null
    done
    SFX="$W/pkg400-solid.exe"
    measure floor_7z "$REPS" "cp '$SFX' '$OUT/copy.exe' && sha256sum '$OUT/copy.exe'"
    measure sepkg_7z "$REPS" "'$SEPKG' transform '$SFX' --sylink '$SYLINK' -o '$OUT/s.exe' -q"
    measure floor_7z_ns "$REPS" "cp '$W/pkg400-ns.exe' '$OUT/copy.exe' && sha256sum '$OUT/copy.exe'"
    measure sepkg_7z_ns "$REPS" "'$SEPKG' transform '$W/pkg400-ns.exe' --sylink '$SYLINK' -o '$OUT/n.exe' -q"
    # The shell way: 7-Zip opens the self-extractor, the edit is made in
    # the extracted tree, 7-Zip packs it again with its defaults, and the
    # stub and config block are put back in front.
    STUB_LEN=$(( $(stat -c %s "$W/stub/stub.exe") + $(stat -c %s "$SFX_CFG") ))
    measure shell_7z "$SHELL7_REPS" "set -e; mkdir '$OUT/x'; cd '$OUT/x'; 7zz x -bd -bso0 -y '$SFX'; \
sed -i 's/^KeepPreviousSetting=1/KeepPreviousSetting=0/' setAid.ini; cp '$SYLINK' sylink.xml; \
7zz a -bd -bso0 -y ../new.7z .; head -c $STUB_LEN '$SFX' > ../shell.exe; cat ../new.7z >> ../shell.exe; sha256sum ../shell.exe"
    SEVENZ_DICT=$(7zz l -slt "$SFX" | sed -n 's/^Method = .*LZMA2:\([0-9]*\).*/\1/p' | head -n 1)
elif [ "$SEVENZ" = 1 ]; then
    echo "  (7z rows skipped: 7zz is not installed)" >&2
fi
rm -rf "$OUT"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# The report, as Markdown for the README.
get() { awk -v k="$1" -v f="$2" '$1 == k {print $f}' "$RESULTS"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
{
    echo "sepkg benchmark, $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), warm cache"
    echo "load average before: $LOAD_BEFORE, after: $LOAD_AFTER; medians of $REPS runs ($SHELL_REPS for shell, python, batch)"
    echo "package: $(du -m "$ZIP" | cut -f1) MB zip, $(find "$W/pkg400" -type f | wc -l) files"
    echo
    echo "| method | median s | x floor | CPU s | max RSS MB | runs s |"
    echo "|---|---|---|---|---|---|"
    for k in floor:"floor: cp + sha256sum" floor_ossl:"cp + openssl sha256" floor_sync:"cp + sync + openssl sha256 (durable, like sepkg)" shell:"shell: unzip, sed, cp, zip -r, sha256sum" python:"python zipfile" sepkg_zip:"sepkg zip -> zip" sepkg_dir:"sepkg folder -> zip" floor_cab:"cab floor: cp + sha256sum of the .cab" sepkg_cab:"sepkg cab -> cab" sepkg_zip_1500:"sepkg zip -> zip, 1.5 GB" batch:"sepkg batch, 8 x 50 MB" sequential:"sepkg one by one, 8 x 50 MB" \
        floor_7z:"7z SFX floor: cp + sha256sum of the .exe (solid)" sepkg_7z:"sepkg 7z SFX -> 7z SFX (solid LZMA2)" \
        shell_7z:"7z shell: 7zz x, sed, cp, 7zz a, stub, sha256sum" \
        floor_7z_ns:"7z SFX floor (-ms=off)" sepkg_7z_ns:"sepkg 7z SFX -> 7z SFX (-ms=off)"; do
        key=${k%%:*}; label=${k#*:}
        [ -n "$(get "$key" 2)" ] || continue
        printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(get "$key" 2)" \
            "$(if [[ $key == batch || $key == sequential || $key == sepkg_zip_1500 ]]; then echo "-"; elif [[ $key == *cab ]]; then ratio "$(get "$key" 2)" "$(get floor_cab 2)"; elif [[ $key == *_7z_ns ]]; then ratio "$(get "$key" 2)" "$(get floor_7z_ns 2)"; elif [[ $key == *_7z ]]; then ratio "$(get "$key" 2)" "$(get floor_7z 2)"; else ratio "$(get "$key" 2)" "$(get floor 2)"; fi)" \
            "$(get "$key" 4)" "$(mb "$(get "$key" 3)")" "$(awk -v k="$key" '$1==k{for(i=5;i<=NF;i++)printf "%s ", $i}' "$RESULTS")"
    done
    echo
    if [ -n "$(get sepkg_zip 2)" ]; then
        echo "sepkg zip -> zip / floor: $(ratio "$(get sepkg_zip 2)" "$(get floor 2)") (target <= 1.5); / cp + openssl: $(ratio "$(get sepkg_zip 2)" "$(get floor_ossl 2)"); / cp + sync + openssl: $(ratio "$(get sepkg_zip 2)" "$(get floor_sync 2)")"
        [ -z "$(get sepkg_cab 2)" ] || echo "sepkg cab -> cab / cab floor: $(ratio "$(get sepkg_cab 2)" "$(get floor_cab 2)")"
        echo "shell / sepkg zip -> zip: $(ratio "$(get shell 2)" "$(get sepkg_zip 2)") (target >= 10)"
        echo "python / sepkg zip -> zip: $(ratio "$(get python 2)" "$(get sepkg_zip 2)")"
    fi
    if [ -n "$(get sepkg_7z 2)" ]; then
        echo "sepkg 7z SFX (solid) / its floor: $(ratio "$(get sepkg_7z 2)" "$(get floor_7z 2)") (target <= 2.0); -ms=off / its floor: $(ratio "$(get sepkg_7z_ns 2)" "$(get floor_7z_ns 2)") (target <= 1.5)"
        echo "7z shell / sepkg 7z SFX: $(ratio "$(get shell_7z 2)" "$(get sepkg_7z 2)") (target >= 15)"
        echo "7z peak RSS: solid $(mb "$(get sepkg_7z 3)") MB, -ms=off $(mb "$(get sepkg_7z_ns 3)") MB (target <= 64 MB + the folder's dictionary, LZMA2:$SEVENZ_DICT = $(( (1 << SEVENZ_DICT) >> 20 )) MiB)"
    fi
    if [ -n "$(get batch 2)" ]; then
        echo "batch speed-up over one by one: $(ratio "$(get sequential 2)" "$(get batch 2)")"
    fi
} | tee "$W/report.md"
