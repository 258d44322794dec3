# scenario-lua: build, test, demo and install.
#   make            build the Lua module scenario.core and libscenario.a (Lua 5.4)
#   make LUA=luajit the same for LuaJIT 2.1 into build-luajit/ (also LUA=lua5.1,
#                   lua5.2, lua5.3: build-lua5.1/ ...); make all-lua builds all five
#   make test       install what is missing, build, run the busted suite on
#                   Lua 5.4 and LuaJIT (make test-all-lua: on all five)
#   make demo       run examples/quickstart.lua against the local simulator
#   make simulator  run the local simulator in the foreground (PORT=8080)
#   make install PREFIX=/usr/local [LUA=...]
#   make SANITIZE=1 ...   build with AddressSanitizer + UBSan into build-asan/

# The interpreter the build is for. Its pkg-config name is its command name.
# Each has its own build folder: lua5.4 keeps build/ (build-asan/ with
# SANITIZE=1), the others build-<name>/ (build-<name>-asan/).
LUA      ?= lua5.4
PREFIX   ?= /usr/local
PORT     ?= 8080
BUSTED   ?= busted

ALL_LUAS  = lua5.1 lua5.2 lua5.3 lua5.4 luajit
TEST_LUAS = lua5.4 luajit
MORE_LUAS = lua5.1 lua5.2 lua5.3
LUA_NAME := $(notdir $(LUA))
ifeq ($(filter $(LUA_NAME),$(ALL_LUAS)),)
$(error LUA=$(LUA): one of $(ALL_LUAS))
endif
LUA_PKG   = $(LUA_NAME)
# the version folder of share/lua and lib/lua (LuaJIT runs 5.1 modules)
LUA_VER   = $(if $(filter luajit,$(LUA_NAME)),5.1,$(LUA_NAME:lua%=%))
# the build folder of interpreter $(1), without sanitizers
build_of  = $(if $(filter lua5.4,$(1)),build,build-$(1))

ifeq ($(SANITIZE),1)
BUILD    ?= $(call build_of,$(LUA_NAME))-asan
SANFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD    ?= $(call build_of,$(LUA_NAME))
SANFLAGS  =
endif

PKG_CFLAGS := $(shell pkg-config --cflags libcurl $(LUA_PKG) 2>/dev/null)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null)
LUA_LIBS   := $(shell pkg-config --libs $(LUA_PKG) 2>/dev/null)
# lua-cjson, linked into what links libscenario.a (the runner, embed-host):
# scenario_openlibs registers its luaopen_cjson and luaopen_cjson_safe in
# package.preload, so that those need no package.cpath. Debian's lua-cjson
# has one library per Lua version (LuaJIT uses 5.1's) and no unversioned
# .so link, hence the file name. A host with another lua-cjson gives its own
# (CJSON_LIBS=/path/to/libcjson.a). core.so is not linked to it: the
# interpreter that loads core.so finds cjson on its own paths.
CJSON_LIBS ?= -l:liblua$(LUA_VER)-cjson.so.0
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -fPIC -pthread -Wall -Wextra -Werror $(SANFLAGS) \
             $(PKG_CFLAGS) $(CFLAGS)

CORE_SRC = csrc/buf.c csrc/heap.c csrc/retry.c csrc/loop.c csrc/request.c \
           csrc/worker.c csrc/timer.c csrc/fs.c csrc/scan.c csrc/json.c csrc/core.c
LIB_SRC  = $(CORE_SRC) csrc/embed.c
CORE_OBJ = $(CORE_SRC:csrc/%.c=$(BUILD)/obj/%.o)
LIB_OBJ  = $(LIB_SRC:csrc/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/bundle.o
# every scenario.* module, subfolders included (resources/, runner/, ...):
# the bundle, make install and the rockspec (rockspec/modules.lua) go by it
LUA_SRC  = $(sort $(shell find lua/scenario -name '*.lua'))
HEADERS  = $(wildcard csrc/*.h)

MODULE   = $(BUILD)/lua/scenario/core.so
STATIC   = $(BUILD)/libscenario.a

DEB_PKGS = lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted \
           luarocks lua-check pkg-config gcc make openssl netpbm libreadline-dev \
           luajit libluajit-5.1-dev lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev \
           lua5.3 liblua5.3-dev lua-coxpcall love xvfb xauth libgl1-mesa-dri jq

.PHONY: all all-lua deps test test-more-lua test-all-lua test-asan test-io-thread test-slow demo simulator \
        install clean lint generate docs bench fuzz fuzz-long valgrind lint-c rockspec

HOST     = $(BUILD)/embed-host

# the scenario-lua runner (csrc/main.c) is Lua 5.4 only: not built for the others
RUNNER   = $(if $(filter lua5.4,$(LUA_NAME)),$(BUILD)/scenario-lua)
# line editing in the runner's interactive mode when GNU readline is there
READLINE_LIBS := $(shell pkg-config --exists readline 2>/dev/null && pkg-config --libs readline)

all: $(MODULE) $(STATIC) $(HOST) $(RUNNER)

# every interpreter's build, one after the other
all-lua:
	@set -e; for l in $(ALL_LUAS); do $(MAKE) --no-print-directory LUA=$$l all; done

ifneq ($(RUNNER),)
# the scenario-lua runner (csrc/main.c): Lua 5.4, the C core and every module
$(RUNNER): csrc/main.c $(STATIC) csrc/scenario.h
	$(CC) $(ALL_CFLAGS) $(if $(READLINE_LIBS),-DSC_USE_READLINE) -Icsrc -o $@ $< $(STATIC) \
	  $(CJSON_LIBS) $(LUA_LIBS) $(CURL_LIBS) $(READLINE_LIBS) -lm
endif

# the example C host (examples/embed/host.c), linked to libscenario.a,
# lua-cjson and the interpreter's library: the link line of any C host
$(HOST): examples/embed/host.c $(STATIC) csrc/scenario.h
	$(CC) $(ALL_CFLAGS) -Icsrc -o $@ $< $(STATIC) $(CJSON_LIBS) $(LUA_LIBS) $(CURL_LIBS) -lm

$(BUILD)/obj/%.o: csrc/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# every scenario.* module as bytecode, for scenario_openlibs(). The target
# interpreter itself writes it ($(LUA) runs string.dump): bytecode is not
# portable between 5.1, 5.2, 5.3, 5.4 and LuaJIT, and each refuses the others'.
$(BUILD)/bundle.c: csrc/bundle.lua $(LUA_SRC)
	@mkdir -p $(dir $@)
	$(LUA) csrc/bundle.lua $@ $(LUA_SRC)

$(BUILD)/obj/bundle.o: $(BUILD)/bundle.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Icsrc -Wno-overlength-strings -c $< -o $@

# modules are not linked to liblua: the interpreter provides its symbols
$(MODULE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -pthread $(SANFLAGS) -o $@ $(CORE_OBJ) $(CURL_LIBS)

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

# Installs only what is missing; on a machine that has everything this is a
# handful of dpkg queries.
deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Prism, the third-party OpenAPI validator of the contract tests (pinned in
# spec/contract/package-lock.json)
PRISM = spec/contract/node_modules/.bin/prism

$(PRISM): spec/contract/package.json spec/contract/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	cd spec/contract && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Builds every interpreter of $(1) first, then runs the busted suite under each
# on its own build (SCENARIO_BUILD); all of them run, and the recipe fails when
# any failed.
define build_and_test
	@set -e; for l in $(1); do $(MAKE) --no-print-directory LUA=$$l all; done
	@failed=""; \
	$(foreach l,$(1),echo "SCENARIO_BUILD=$(call build_of,$(l)) $(BUSTED) --lua=$(l)"; \
	  SCENARIO_BUILD=$(call build_of,$(l)) $(BUSTED) --lua=$(l) || failed="$$failed $(l)";) \
	if [ -n "$$failed" ]; then echo "the suite failed on:$$failed" >&2; exit 1; fi
endef

# The same, with the suites side by side: the first interpreter's in the
# foreground, each other's in the background into a log printed when the
# first ends (most of a suite waits on servers, so two share two cores).
define build_and_test_side_by_side
	@set -e; for l in $(1); do $(MAKE) --no-print-directory LUA=$$l all; done
	@logs=$$(mktemp -d); \
	$(foreach l,$(wordlist 2,99,$(1)),( SCENARIO_BUILD=$(call build_of,$(l)) $(BUSTED) --lua=$(l) \
	  >$$logs/$(l) 2>&1; echo $$? >$$logs/$(l).status ) &) \
	echo "SCENARIO_BUILD=$(call build_of,$(firstword $(1))) $(BUSTED) --lua=$(firstword $(1))   (and $(wordlist 2,99,$(1)) beside it)"; \
	failed=""; SCENARIO_BUILD=$(call build_of,$(firstword $(1))) $(BUSTED) --lua=$(firstword $(1)) \
	  || failed=" $(firstword $(1))"; \
	wait; \
	for l in $(wordlist 2,99,$(1)); do \
	  echo "$(BUSTED) --lua=$$l"; cat $$logs/$$l; \
	  [ "$$(cat $$logs/$$l.status)" = 0 ] || failed="$$failed $$l"; \
	done; \
	rm -rf $$logs; \
	if [ -n "$$failed" ]; then echo "the suite failed on:$$failed" >&2; exit 1; fi
endef

test: deps $(PRISM)
	$(call build_and_test_side_by_side,$(TEST_LUAS))

# the suite on the other interpreters (CI runs it after make test)
test-more-lua: deps $(PRISM)
	$(MAKE) --no-print-directory LUA=luajit all
	$(call build_and_test,$(MORE_LUAS))

test-all-lua: deps $(PRISM)
	$(call build_and_test,$(ALL_LUAS))

# The whole suite again on a build with AddressSanitizer and UBSan (halting on
# the first report), Lua 5.4. Leak checking is valgrind's job: LSan would also
# report the interpreters and shells the tests start.
ASAN_RUN = SCENARIO_BUILD=build-asan ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)"

test-asan: deps $(PRISM)
	$(MAKE) SANITIZE=1 all
	$(MAKE) LUA=luajit all
	$(ASAN_RUN) $(BUSTED) --lua=$(LUA)

# The same with the I/O thread on in every loop (SCENARIO_IO_THREAD=1; the
# specs of the step's own budgets turn it off for themselves).
test-io-thread: deps $(PRISM)
	$(MAKE) SANITIZE=1 all
	$(MAKE) LUA=luajit all
	SCENARIO_IO_THREAD=1 $(ASAN_RUN) $(BUSTED) --lua=$(LUA)

# the cases too slow for the default suite (the 300 MiB upload round trip)
test-slow: deps $(PRISM)
	$(MAKE) all
	SCENARIO_BUILD=$(BUILD) SCENARIO_SLOW_TESTS=1 $(BUSTED) --lua=$(LUA) spec/uploads_spec.lua

# luacheck, then no function in lua/ or csrc/ over 80 lines (generated files
# and tables excepted): spec/support/function_length.lua lists any
lint: deps
	luacheck lua spec examples api bench rockspec simulator
	lua5.4 spec/support/function_length.lua lua csrc

# cppcheck on the C core and the fuzz harnesses; a suppression, if ever
# needed, is made in place (// cppcheck-suppress <id>) with its reason
lint-c:
	@command -v cppcheck >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq cppcheck >/dev/null; }
	cppcheck --std=c11 --enable=warning,style,performance,portability --inline-suppr \
	  --error-exitcode=1 --quiet -Icsrc csrc/ fuzz/

# libFuzzer harnesses of the C that reads bytes from the network or the user
# (fuzz/*.c), built with clang -fsanitize=fuzzer,address,undefined into
# build/fuzz; each runs FUZZ_SECONDS (default 60) from its committed seed
# corpus (fuzz/corpus/<harness>) and must end with no finding
fuzz: deps
	@missing=""; for p in clang libclang-rt-dev; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) fuzz/run.sh

# the same harnesses for longer, by hand or on a spare machine (not CI):
# FUZZ_SECONDS each (default 3600); the corpus each run grows is kept in
# build/fuzz/corpus and read again by the next run
fuzz-long:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),3600)

# valgrind memcheck (spec/valgrind_spec.lua): the C host example, lua5.4 with
# core.so and the scenario-lua runner doing requests, errors and timeouts;
# no invalid access and no byte definitely or indirectly lost
valgrind: deps
	@command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
	$(MAKE) all
	SCENARIO_VALGRIND=1 $(BUSTED) --lua=$(LUA) spec/valgrind_spec.lua

demo: deps
	$(MAKE) all
	$(LUA) examples/run_demo.lua

# Speed and memory against named baselines, side by side in one run (issue 8):
# installs nginx-light, lua-socket, time and hyperfine when missing, prints one
# table and writes it into README.md. Not part of make test or CI.
bench: deps
	$(MAKE) all
	$(MAKE) LUA=luajit all
	bench/run.sh

# lua/scenario/operations.lua is generated and committed; spec/generate_spec.lua
# fails when it is stale
generate:
	$(LUA) api/generate.lua api/openapi.json lua/scenario/operations.lua api/MAPPING.md
	$(LUA) api/readme_mapping.lua README.md api/MAPPING.md

# the module list of the rockspec, from the tree (lua/scenario/**/*.lua) and
# CORE_SRC; spec/rockspec_spec.lua fails when it is stale
rockspec:
	$(LUA) rockspec/modules.lua

# docs/reference.md: every resource method with the document's descriptions,
# parameters and enums (generated and committed)
docs:
	$(LUA) api/docs.lua api/openapi.json lua/scenario/operations.lua docs/reference.md

# the local simulator (simulator/README.md) in the foreground
simulator:
	python3 simulator/scenario_sim.py --port $(PORT)

# LUA=... installs that interpreter's build (modules under lib/lua/5.x and
# share/lua/5.x; LuaJIT: 5.1); the runner comes with lua5.4 only
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VER)/scenario \
	           $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VER)/scenario \
	           $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(MODULE) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VER)/scenario/core.so
	@set -e; for f in $(LUA_SRC:lua/%=%); do \
	  echo "install -D -m 644 lua/$$f $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VER)/$$f"; \
	  install -D -m 644 lua/$$f $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VER)/$$f; \
	done
	install -m 644 csrc/scenario.h $(DESTDIR)$(PREFIX)/include/scenario.h
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/libscenario.a
ifneq ($(RUNNER),)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(RUNNER) $(DESTDIR)$(PREFIX)/bin/scenario-lua
endif

clean:
	rm -rf build build-asan build-lua5.1* build-lua5.2* build-lua5.3* build-luajit* out
