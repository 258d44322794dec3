-- Builds offline on Debian 12, for Lua 5.1 (also loads in LuaJIT), 5.2, 5.3, 5.4:
--   luarocks --lua-version 5.4 make --deps-mode=none rockspec/scenario-scm-1.rockspec
package = "scenario"
version = "scm-1"
source = {
  url = "git+https://github.com/scenario-lua/scenario-lua.git",
}
description = {
  summary = "Lua SDK for the Scenario generative-AI API, on a libcurl event loop",
  detailed = [[
    A client for all operations of the Scenario API with validation, jobs,
    paging, streaming uploads and downloads, driven by one non-blocking
    libcurl loop that game engines can step from their frame loop.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
-- Only the library is declared: Debian keeps curl's headers in the multiarch
-- include folder, which the compiler searches but LuaRocks' header check
-- does not.
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["scenario"] = "lua/scenario/init.lua",
    ["scenario.assets"] = "lua/scenario/assets.lua",
    ["scenario.cli"] = "lua/scenario/cli.lua",
    ["scenario.client"] = "lua/scenario/client.lua",
    ["scenario.compat"] = "lua/scenario/compat.lua",
    ["scenario.download"] = "lua/scenario/download.lua",
    ["scenario.errors"] = "lua/scenario/errors.lua",
    ["scenario.job"] = "lua/scenario/job.lua",
    ["scenario.jobs"] = "lua/scenario/jobs.lua",
    ["scenario.json"] = "lua/scenario/json.lua",
    ["scenario.log"] = "lua/scenario/log.lua",
    ["scenario.loop"] = "lua/scenario/loop.lua",
    ["scenario.pager"] = "lua/scenario/pager.lua",
    ["scenario.pipeline"] = "lua/scenario/pipeline.lua",
    ["scenario.operations"] = "lua/scenario/operations.lua",
    ["scenario.progress"] = "lua/scenario/progress.lua",
    ["scenario.resources"] = "lua/scenario/resources.lua",
    ["scenario.uploads"] = "lua/scenario/uploads.lua",
    ["scenario.util"] = "lua/scenario/util.lua",
    ["scenario.validate"] = "lua/scenario/validate.lua",
    ["scenario.workflow"] = "lua/scenario/workflow.lua",
    ["scenario.workflows"] = "lua/scenario/workflows.lua",
    ["scenario.core"] = {
      sources = {
        "csrc/buf.c", "csrc/heap.c", "csrc/retry.c", "csrc/loop.c",
        "csrc/request.c", "csrc/timer.c", "csrc/fs.c", "csrc/core.c",
      },
      defines = { "_DEFAULT_SOURCE" },
      libraries = { "curl" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
}
