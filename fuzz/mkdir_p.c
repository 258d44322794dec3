/*
 * libFuzzer harness: core.mkdir (csrc/fs.c, sc_mkdir_p), which walks a
 * user-supplied directory path (a download target) component by component.
 *
 * fs.c is compiled for this harness with mkdir() and stat() replaced by the
 * fakes below (-D'mkdir(p,m)=fuzz_mkdir(p,m)' -D'stat(p,s)=fuzz_stat(p,s)'),
 * so that nothing touches the disk.  The fake file system: every directory
 * may be created; a component named "f" is an existing regular file, one
 * named "x" cannot be created (EACCES), "" cannot be created (ENOENT).
 * Checked, beyond ASan/UBSan:
 *  - an empty path or one with a NUL gives nil, "invalid path" and no mkdir;
 *  - otherwise mkdir sees each prefix ending before a '/' (after the first
 *    byte), then the whole path, in order, and stops at the first failure;
 *  - the result is true, or nil and a message naming the failing prefix.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lua.h>

#define CHECK(cond) do { if (!(cond)) { __builtin_trap(); } } while (0)

int sc_mkdir_p(lua_State *L);

#define MAX_CALLS 4096
static char *calls[MAX_CALLS];
static int ncalls;

static const char *last_component(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int fails(const char *path, int *err) {
  const char *c = last_component(path);
  if (*path == '\0') { *err = ENOENT; return 1; }
  if (strcmp(c, "x") == 0) { *err = EACCES; return 1; }
  if (strcmp(c, "f") == 0) { *err = EEXIST; return 1; }
  return 0;
}

int fuzz_mkdir(const char *path, mode_t mode) {
  int err;
  (void)mode;
  CHECK(ncalls < MAX_CALLS);
  calls[ncalls] = strdup(path);
  CHECK(calls[ncalls] != NULL);
  ncalls++;
  if (fails(path, &err)) { errno = err; return -1; }
  /* every existing directory answers EEXIST, like the real call: here,
     "already there" and "made now" must both count as success */
  if (strlen(path) % 2) { errno = EEXIST; return -1; }
  return 0;
}

int fuzz_stat(const char *path, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_mode = strcmp(last_component(path), "f") == 0 ? S_IFREG | 0644 : S_IFDIR | 0755;
  return 0;
}

static lua_State *fuzz_L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = (const char *)data;
  int expect_fail = -1, i, n = 0;

  if (fuzz_L == NULL) {
    fuzz_L = luaL_newstate();
    if (fuzz_L == NULL) abort();
  }
  if (size > 2048) return 0; /* long enough for every branch; keeps runs fast */
  ncalls = 0;
  lua_settop(fuzz_L, 0);
  lua_pushcfunction(fuzz_L, sc_mkdir_p);
  lua_pushlstring(fuzz_L, path, size);
  CHECK(lua_pcall(fuzz_L, 1, 2, 0) == LUA_OK);

  if (size == 0 || memchr(path, '\0', size) != NULL) {
    CHECK(ncalls == 0 && lua_isnil(fuzz_L, 1));
    CHECK(strcmp(lua_tostring(fuzz_L, 2), "invalid path") == 0);
    return 0;
  }
  /* the prefixes mkdir must see, in order */
  for (size_t end = 1; end <= size; end++) {
    if (end < size && path[end] != '/') continue;
    {
      char *want = strndup(path, end);
      int err;
      CHECK(want != NULL);
      CHECK(n < ncalls && strcmp(calls[n], want) == 0);
      n++;
      if (fails(want, &err)) {
        expect_fail = n - 1;
        free(want);
        break;
      }
      free(want);
    }
  }
  CHECK(n == ncalls);
  if (expect_fail < 0) {
    CHECK(lua_toboolean(fuzz_L, 1) && lua_isnil(fuzz_L, 2));
  } else {
    const char *msg = lua_tostring(fuzz_L, 2);
    size_t plen = strlen(calls[expect_fail]);
    CHECK(lua_isnil(fuzz_L, 1) && msg != NULL);
    CHECK(strncmp(msg, calls[expect_fail], plen) == 0 && strncmp(msg + plen, ": ", 2) == 0);
  }
  for (i = 0; i < ncalls; i++) free(calls[i]);
  return 0;
}
