#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with AddressSanitizer and UBSan into
# build/fuzz and runs each for FUZZ_SECONDS (default 60) on a working copy of
# its committed seed corpus (fuzz/corpus/<harness>; new inputs stay in
# build/fuzz/corpus, so the tree is left as it was).  Any finding (a crash, a
# failed check, a leak, a timeout) stops the run with a non-zero status and
# leaves the input in build/fuzz/artifacts.
#   fuzz/run.sh [harness...]          FUZZ_SECONDS=600 fuzz/run.sh headers
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${FUZZ_SECONDS:-60}
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
ALL=(retry_after headers request_url mkdir_p json_decode)
if [ $# -gt 0 ]; then HARNESSES=("$@"); else HARNESSES=("${ALL[@]}"); fi

CFLAGS="-g -O1 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Icsrc
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  $(pkg-config --cflags libcurl lua5.4)"
LIBS="$(pkg-config --libs lua5.4 libcurl) -lm -pthread"
# the core without request.c, which the harnesses that need it include
CORE="csrc/buf.c csrc/heap.c csrc/retry.c csrc/loop.c csrc/worker.c csrc/timer.c csrc/fs.c csrc/scan.c csrc/json.c csrc/core.c"

mkdir -p "$OUT/artifacts"
build() {
  local h=$1
  case $h in
    retry_after) $CC $CFLAGS -o "$OUT/$h" fuzz/$h.c csrc/retry.c $LIBS ;;
    headers|request_url) $CC $CFLAGS -o "$OUT/$h" fuzz/$h.c $CORE $LIBS ;;
    json_decode) $CC $CFLAGS -o "$OUT/$h" fuzz/$h.c csrc/json.c $LIBS -l:liblua5.4-cjson.so.0 ;;
    mkdir_p)
      # fs.c with mkdir() and stat() replaced by the harness's fake file system
      $CC $CFLAGS "-Dmkdir(p,m)=fuzz_mkdir(p,m)" "-Dstat(p,s)=fuzz_stat(p,s)" \
        -c csrc/fs.c -o "$OUT/fs_fake.o"
      $CC $CFLAGS -o "$OUT/$h" fuzz/$h.c "$OUT/fs_fake.o" $LIBS ;;
    *) echo "fuzz: unknown harness $h" >&2; exit 2 ;;
  esac
}

max_len() {
  case $1 in
    retry_after) echo 512 ;; headers) echo 4096 ;; request_url) echo 1024 ;; json_decode) echo 8192 ;;
    *) echo 2048 ;;
  esac
}

status=0
for h in "${HARNESSES[@]}"; do
  echo "fuzz: building $h"
  build "$h"
  mkdir -p "$OUT/corpus/$h"
  dict=()
  [ -f "fuzz/$h.dict" ] && dict=(-dict="fuzz/$h.dict")
  echo "fuzz: running $h for ${SECS}s"
  if "./$OUT/$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
      -max_len="$(max_len "$h")" -print_final_stats=1 "${dict[@]}" \
      -artifact_prefix="$OUT/artifacts/$h-" "$OUT/corpus/$h" "fuzz/corpus/$h" \
      >"$OUT/$h.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$h.log")
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$h.log" | tail -1)
    corpus=$(ls "$OUT/corpus/$h" | wc -l)
    echo "fuzz: $h: ok, $runs runs in ${SECS}s, $cov, $corpus inputs in build/fuzz/corpus/$h"
  else
    status=1
    echo "fuzz: $h: FINDING (log: $OUT/$h.log, input in $OUT/artifacts/)" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$OUT/$h.log" | head -20 >&2
  fi
done
exit $status
