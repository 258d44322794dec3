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
-- The module list below is written from the tree (every lua/scenario/**/*.lua)
-- and the Makefile's CORE_SRC by rockspec/modules.lua: run `make rockspec`
-- after adding or moving a file; spec/rockspec_spec.lua fails when it is stale.
build = {
  type = "builtin",
  modules = {
    -- BEGIN modules: written by rockspec/modules.lua (make rockspec)
    ["scenario"] = "lua/scenario/init.lua",
    ["scenario.check"] = "lua/scenario/check.lua",
    ["scenario.client"] = "lua/scenario/client.lua",
    ["scenario.compat"] = "lua/scenario/compat.lua",
    ["scenario.download"] = "lua/scenario/download.lua",
    ["scenario.errors"] = "lua/scenario/errors.lua",
    ["scenario.format"] = "lua/scenario/format.lua",
    ["scenario.job"] = "lua/scenario/job.lua",
    ["scenario.json"] = "lua/scenario/json.lua",
    ["scenario.log"] = "lua/scenario/log.lua",
    ["scenario.loop"] = "lua/scenario/loop.lua",
    ["scenario.operations"] = "lua/scenario/operations.lua",
    ["scenario.pager"] = "lua/scenario/pager.lua",
    ["scenario.pipeline"] = "lua/scenario/pipeline/init.lua",
    ["scenario.pipeline.plan"] = "lua/scenario/pipeline/plan.lua",
    ["scenario.pipeline.run"] = "lua/scenario/pipeline/run.lua",
    ["scenario.pipeline.state"] = "lua/scenario/pipeline/state.lua",
    ["scenario.progress"] = "lua/scenario/progress.lua",
    ["scenario.resources"] = "lua/scenario/resources/init.lua",
    ["scenario.resources.assets"] = "lua/scenario/resources/assets.lua",
    ["scenario.resources.base"] = "lua/scenario/resources/base.lua",
    ["scenario.resources.collections"] = "lua/scenario/resources/collections.lua",
    ["scenario.resources.generate"] = "lua/scenario/resources/generate.lua",
    ["scenario.resources.jobs"] = "lua/scenario/resources/jobs.lua",
    ["scenario.resources.models"] = "lua/scenario/resources/models.lua",
    ["scenario.resources.oscu"] = "lua/scenario/resources/oscu.lua",
    ["scenario.resources.recommendations"] = "lua/scenario/resources/recommendations.lua",
    ["scenario.resources.search"] = "lua/scenario/resources/search.lua",
    ["scenario.resources.tags"] = "lua/scenario/resources/tags.lua",
    ["scenario.resources.uploads"] = "lua/scenario/resources/uploads.lua",
    ["scenario.resources.usages"] = "lua/scenario/resources/usages.lua",
    ["scenario.resources.workflows"] = "lua/scenario/resources/workflows.lua",
    ["scenario.runner"] = "lua/scenario/runner/init.lua",
    ["scenario.runner.args"] = "lua/scenario/runner/args.lua",
    ["scenario.runner.call"] = "lua/scenario/runner/call.lua",
    ["scenario.runner.commands"] = "lua/scenario/runner/commands.lua",
    ["scenario.runner.download"] = "lua/scenario/runner/download.lua",
    ["scenario.runner.fields"] = "lua/scenario/runner/fields.lua",
    ["scenario.runner.generate"] = "lua/scenario/runner/generate.lua",
    ["scenario.runner.help"] = "lua/scenario/runner/help.lua",
    ["scenario.runner.jobs"] = "lua/scenario/runner/jobs.lua",
    ["scenario.runner.ops"] = "lua/scenario/runner/ops.lua",
    ["scenario.runner.output"] = "lua/scenario/runner/output.lua",
    ["scenario.runner.redact"] = "lua/scenario/runner/redact.lua",
    ["scenario.runner.sdk"] = "lua/scenario/runner/sdk.lua",
    ["scenario.runner.upload"] = "lua/scenario/runner/upload.lua",
    ["scenario.track"] = "lua/scenario/track.lua",
    ["scenario.util"] = "lua/scenario/util.lua",
    ["scenario.validate"] = "lua/scenario/validate.lua",
    ["scenario.workflow"] = "lua/scenario/workflow/init.lua",
    ["scenario.workflow.builder"] = "lua/scenario/workflow/builder.lua",
    ["scenario.workflow.compiler"] = "lua/scenario/workflow/compiler.lua",
    ["scenario.workflow.load"] = "lua/scenario/workflow/load.lua",
    ["scenario.workflow.schema"] = "lua/scenario/workflow/schema.lua",
    ["scenario.core"] = {
      sources = {
        "csrc/buf.c", "csrc/heap.c", "csrc/retry.c", "csrc/loop.c",
        "csrc/request.c", "csrc/worker.c", "csrc/timer.c", "csrc/fs.c",
        "csrc/scan.c", "csrc/json.c", "csrc/core.c",
      },
      defines = { "_DEFAULT_SOURCE" },
      libraries = { "curl", "pthread" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
    -- END modules
  },
}
