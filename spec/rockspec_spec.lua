-- The rockspec lists every module, installs scenario and scenario.core offline
-- with luarocks for Lua 5.1 (whose tree LuaJIT loads too), 5.2, 5.3 and 5.4,
-- and examples/quickstart.lua runs from each installed tree against the local
-- simulator and writes PNGs that decode.
local sh = require "support.sh"
local native = require "support.native"
local sim_mod = require "support.sim"
local interp = require "support.interp"
local files = require "support.files"
local quote = files.quote

local function read(path)
  return assert(files.read(path), "cannot read " .. path)
end

describe("rockspec", function()
  it("lists every Lua module and C source of the tree, as rockspec/modules.lua writes it", function()
    local ok, out = sh("lua5.4 rockspec/modules.lua --check 2>&1")
    assert.is_true(ok, out)
    -- and independently of that script: the modules are exactly the files
    -- under lua/scenario/ (subfolders included), scenario.core's sources
    -- exactly the Makefile's CORE_SRC
    local env = {}
    local text = read("rockspec/scenario-scm-1.rockspec")
    local setfenv = rawget(_G, "setfenv") -- Lua 5.1 and LuaJIT
    if setfenv then
      setfenv(assert(rawget(_G, "loadstring")(text, "rockspec")), env)()
    else
      assert(load(text, "rockspec", "t", env))()
    end
    local listed = {}
    for name, path in pairs(env.build.modules) do
      if type(path) == "string" then
        local want = "lua/" .. name:gsub("%.", "/")
        assert.is_true(path == want .. ".lua" or path == want .. "/init.lua", name .. " -> " .. path)
        listed[path] = true
      end
    end
    local p = io.popen("find lua/scenario -name '*.lua'")
    local in_tree = 0
    for path in p:lines() do
      in_tree = in_tree + 1
      assert.is_truthy(listed[path], path .. " is missing from the rockspec")
    end
    p:close()
    local n = 0
    for _ in pairs(listed) do n = n + 1 end
    assert.are.equal(in_tree, n, "the rockspec lists files that are not in the tree")
    local core = {}
    for src in read("Makefile"):match("\nCORE_SRC%s*=([^\n]*\n[^\n]*)"):gmatch("csrc/[%w_]+%.c") do
      core[#core + 1] = src
    end
    assert.are.same(core, env.build.modules["scenario.core"].sources)
  end)

  -- every Lua version's install, whatever interpreter runs the specs: run
  -- once, by the Lua 5.4 suites
  local describe_installs = interp.primary and describe or function() end
  describe_installs("luarocks make into a tree, then the quickstart from it", function()
    local sim
    local root = select(2, sh("pwd")):gsub("\n$", "")
    setup(function() sim = sim_mod.start { job_duration = 0.3 } end)
    teardown(function() if sim then sim:stop() end end)

    -- the PNG signature, then the IHDR chunk; pngtopnm decodes the whole file
    local function assert_png(path)
      local f = assert(io.open(path, "rb"))
      local head = f:read(16)
      f:close()
      assert.are.equal("\137PNG\r\n\26\n", head and head:sub(1, 8), path .. " is not a PNG")
      assert.are.equal("IHDR", head:sub(13, 16), path .. " has no IHDR first")
      local ok, out = sh(native .. "pngtopnm " .. quote(path) .. " 2>&1 >/dev/null")
      assert.is_true(ok, path .. " does not decode: " .. out)
    end

    for _, case in ipairs {
      { "5.1", { "lua5.1", "luajit" } }, { "5.2", { "lua5.2" } },
      { "5.3", { "lua5.3" } }, { "5.4", { "lua5.4" } },
    } do
      local v, interps = case[1], case[2]
      it("Lua " .. v .. ": " .. table.concat(interps, " and "), function()
        local tree = os.tmpname()
        os.remove(tree)
        local work = tree .. ".work"
        finally(function() os.execute("rm -rf " .. tree .. " " .. work) end)
        -- luarocks compiles next to the sources (csrc/*.o): it builds a copy,
        -- so that nothing is left in the tree and runs at the same time (one
        -- per interpreter) do not share objects
        local ok, log = sh("mkdir -p " .. work .. "/src " .. work .. "/run && cp -r rockspec lua csrc " ..
          work .. "/src/ && cd " .. work .. "/src && " .. native .. "luarocks --lua-version " .. v ..
          " --tree " .. tree .. " make --deps-mode=none rockspec/scenario-scm-1.rockspec 2>&1")
        assert.is_true(ok, log)
        local paths
        ok, paths = sh(native .. "luarocks --lua-version " .. v .. " --tree " .. tree .. " path")
        assert.is_true(ok, paths)
        for _, lua in ipairs(interps) do
          -- from an empty folder: nothing of the source tree is found
          local env = "cd " .. work .. "/run && " .. paths:gsub("%s+$", ""):gsub("\n", "; ") ..
            " && SCENARIO_API_URL=" .. sim.url .. " SCENARIO_API_KEY=" .. sim_mod.KEY ..
            " SCENARIO_API_SECRET=" .. sim_mod.SECRET .. " " .. native .. lua
          local out
          ok, out = sh(env .. " -e " .. quote(
            "local s = require 'scenario'; require 'scenario.core'; io.write(s.VERSION, ' ') " ..
            "for p in package.cpath:gmatch('[^;]+') do local f = io.open((p:gsub('%?', 'scenario/core'))) " ..
            "if f then f:close(); io.write((p:gsub('%?', 'scenario/core'))); break end end") .. " 2>&1")
          assert.is_true(ok, out)
          assert.are.equal("0.1.0 " .. tree .. "/lib/lua/" .. v .. "/scenario/core.so", out)
          local dir = work .. "/run/out-" .. lua
          ok, out = sh(env .. " " .. quote(root .. "/examples/quickstart.lua") .. " 'a rock' " ..
            quote(dir) .. " 2>&1")
          assert.is_true(ok, lua .. ": " .. out)
          local written = {}
          for path in out:gmatch("wrote ([^\n]+)") do written[#written + 1] = path end
          assert.are.equal(2, #written, out)
          for _, path in ipairs(written) do
            assert.are.equal(dir, path:sub(1, #dir), path)
            assert_png(path)
          end
        end
      end)
    end
  end)
end)
