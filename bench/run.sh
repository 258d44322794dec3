#!/usr/bin/env bash
# make bench: installs what the benchmarks need (only what is missing),
# compiles the C programs of bench/ into build/bench/, then runs
# bench/run.lua, which prints the table and writes it into README.md.
# Needs `make all` and `make LUA=luajit all` done first (the Makefile's
# bench target does both).
set -euo pipefail
cd "$(dirname "$0")/.."

# nginx-light: the fast local server; lua-socket: B1's LuaSocket comparison;
# time: /usr/bin/time -v for peak RSS; hyperfine: B6 (optional)
missing=""
for p in nginx-light lua-socket time curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "bench: installing$missing" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! command -v hyperfine >/dev/null 2>&1; then
  { [ -n "$missing" ] || apt-get update -qq; } >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
    echo "bench: hyperfine not available; B6 is timed by bench/run.lua itself" >&2
fi

mkdir -p build/bench
CC=${CC:-cc}
CFLAGS="-std=c11 -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra -Werror"
$CC $CFLAGS $(pkg-config --cflags libcurl) -o build/bench/b1_baseline bench/b1_baseline.c \
  $(pkg-config --libs libcurl)
# B1's floor: the SDK's request in C, decoded by the core's decoder
$CC $CFLAGS $(pkg-config --cflags lua5.4 libcurl) -Icsrc -o build/bench/b1_floor bench/b1_floor.c \
  build/libscenario.a -l:liblua5.4-cjson.so.0 $(pkg-config --libs lua5.4 libcurl) -lm -pthread
$CC $CFLAGS $(pkg-config --cflags lua5.4 libcurl) -Icsrc -o build/bench/b5_host bench/b5_host.c \
  build/libscenario.a -l:liblua5.4-cjson.so.0 $(pkg-config --libs lua5.4 libcurl) -lm -pthread
# the same host on LuaJIT (make LUA=luajit all: build-luajit/libscenario.a)
$CC $CFLAGS $(pkg-config --cflags luajit libcurl) -Icsrc -o build/bench/b5_host_luajit bench/b5_host.c \
  build-luajit/libscenario.a -l:liblua5.1-cjson.so.0 $(pkg-config --libs luajit libcurl) -lm -pthread

export LUA_PATH='lua/?.lua;lua/?/init.lua;;'
export LUA_CPATH='build/lua/?.so;;'
exec lua5.4 bench/run.lua
