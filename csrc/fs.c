/* core.mkdir(path): creates a directory and its parents (like mkdir -p)
   without starting a process, so that a download never stalls a frame. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
  char *p;
  if (n == 0 || memchr(path, '\0', n) != NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid path");
    return 2;
  }
  p = (char *)lua_newuserdatauv(L, n + 1, 0); /* scratch copy, freed by the GC */
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

/* core.fsync(path): flushes a file's (or a directory's) data to the disk, so
   that a state file renamed into place survives a crash of the machine.
   Returns true, or nil and a message. */
int sc_fsync(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int rc, saved;
  if (fd < 0) goto fail;
  do rc = fsync(fd); while (rc != 0 && errno == EINTR);
  /* a directory on some file systems cannot be synced: nothing to flush */
  if (rc != 0 && (errno == EINVAL || errno == EROFS)) rc = 0;
  saved = errno;
  close(fd);
  errno = saved;
  if (rc != 0) goto fail;
  lua_pushboolean(L, 1);
  return 1;
fail:
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(errno));
  return 2;
}
