--- Prefix for commands that are not Lua: under `make test-asan` the test
-- process carries LD_PRELOAD=libasan, which only Lua processes loading the
-- instrumented core should inherit (node, python, curl and compilers are
-- not built for it).
--   os.execute(native .. "openssl ...")
if os.getenv("LD_PRELOAD") then return "env -u LD_PRELOAD " end
return ""
