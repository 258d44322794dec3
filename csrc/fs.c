/* core.mkdir(path): creates a directory and its parents (like mkdir -p)
   without starting a process, so that a download never stalls a frame. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "sc_internal.h"

static int make_one(const char *path) {
  struct stat st;
  if (mkdir(path, 0777) == 0) return 0;
  if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
  return -1;
}

int sc_mkdir_p(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  char *p;
  if (n == 0 || memchr(path, '\0', n) != NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid path");
    return 2;
  }
  p = luaL_buffinitsize(L, &b, n + 1);
  memcpy(p, path, n + 1);
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = '\0';
    if (make_one(p) != 0) goto fail;
    *c = '/';
  }
  if (make_one(p) != 0) goto fail;
  lua_pushboolean(L, 1);
  return 1;
fail:
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", p, strerror(errno));
  return 2;
}
