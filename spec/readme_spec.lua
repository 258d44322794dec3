-- The README cannot rot: every ```lua block in it is marked, on the line
-- right before its fence, either as runnable or as a sketch, and the
-- runnable ones (and the shell blocks marked runnable) run here against the
-- simulator, as written.
--
--   <!-- readme-test: run -->                    runs as it is
--   <!-- readme-test: run, needs client, m -->   runs after a prelude that
--                                                defines those names (NEEDS)
--   <!-- readme-test: run, after the block before -->  appended to the block
--                                                before it (one program)
--   <!-- readme-test: sketch: why -->            a signature list or a
--                                                fragment; not run
--   <!-- readme-test: sh -->                     (before an indented shell
--                                                block) runs with bash -e from
--                                                the repository root
local sh = require "support.sh"
local interp = require "support.interp"
local sim_mod = require "support.sim"
local files = require "support.files"
local read, write = files.read, files.write

-- a 1x1 PNG image, as a Lua string literal's escapes
local PNG = [[\137\80\78\71\13\10\26\10\0\0\0\13\73\72\68\82\0\0\0\1\0\0\0\1\8\2\0\0\0\144\119\83]] ..
  [[\222\0\0\0\12\73\68\65\84\120\156\99\248\207\192\0\0\3\1\1\0\201\254\146\239\0\0\0\0\73\69\78]] ..
  [[\68\174\66\96\130]]

-- What a block may need, defined before it runs (the README says so around
-- each such block).
local NEEDS = {
  client = "local client = scenario.new()",
  m = 'local m = "flux.1-dev"',
  prompts = 'local prompts = { "a castle", "a dragon" }',
  -- a frame loop that ends when the SDK has nothing left to do
  game = 'local game_is_running = true\n' ..
    'local function draw_frame()\n' ..
    '  if require("scenario.core").pending() == 0 then game_is_running = false end\nend',
  -- the files of the upload examples: an image (PNG bytes) and a glTF binary header
  files = 'local png_bytes = "' .. PNG .. '"\n' ..
    'local f = assert(io.open("photo.jpg", "wb")) f:write(png_bytes) f:close()\n' ..
    'f = assert(io.open("scene.glb", "wb"))\n' ..
    'f:write("glTF\\2\\0\\0\\0\\20\\0\\0\\0" .. ("\\0"):rep(8)) f:close()',
}

local ROOT = assert(io.popen("pwd")):read("*l")

-- The marked blocks of the README, in order: { mark, kind, text, line }.
local function blocks()
  local lines = {}
  for l in io.lines("README.md") do lines[#lines + 1] = l end
  local out, i = {}, 1
  while i <= #lines do
    local l = lines[i]
    if l:match("^```lua") then
      local mark = (lines[i - 1] or ""):match("^<!%-%- readme%-test: (.-) %-%->$")
      local text = {}
      i = i + 1
      while not lines[i]:match("^```") do text[#text + 1] = lines[i]; i = i + 1 end
      out[#out + 1] = { mark = mark, kind = "lua", text = table.concat(text, "\n"), line = i }
    elseif l == "<!-- readme-test: sh -->" then
      local text = {}
      i = i + 2                                   -- the blank line, then the block
      while lines[i] and lines[i]:match("^    ") do
        text[#text + 1] = lines[i]:sub(5); i = i + 1
      end
      out[#out + 1] = { mark = "sh", kind = "sh", text = table.concat(text, "\n"), line = i }
    end
    i = i + 1
  end
  return out
end

describe("README", function()
  local sim, all
  setup(function()
    sim = sim_mod.start()
    all = blocks()
  end)
  teardown(function() sim:stop() end)

  local env
  before_each(function()
    env = "SCENARIO_API_URL=" .. sim.url .. " SCENARIO_API_KEY=" .. sim_mod.KEY ..
      " SCENARIO_API_SECRET=" .. sim_mod.SECRET .. " SCENARIO_POLL_INTERVAL=0.1 "
  end)

  it("marks every Lua block as runnable or as a sketch, and runs some of each kind", function()
    local runs, sketches, shells = 0, 0, 0
    for _, b in ipairs(all) do
      assert.is_truthy(b.mark, "README.md:" .. b.line .. ": a ```lua block without a readme-test mark")
      if b.mark:match("^run") then runs = runs + 1
      elseif b.mark == "sh" then shells = shells + 1
      else assert.matches("^sketch: .+", b.mark) sketches = sketches + 1 end
    end
    assert.is_true(runs >= 6 and shells >= 2, runs .. " runnable blocks, " .. shells .. " shell blocks")
  end)

  it("runs every runnable Lua block against the simulator", function()
    local prev
    for _, b in ipairs(all) do
      if b.kind == "lua" and b.mark:match("^run") then
        local program = { 'local scenario = require "scenario"' }
        if b.mark:find("after the block before", 1, true) then program = { prev } end
        for name in (b.mark:match("needs ([%w_, ]+)") or ""):gmatch("[%w_]+") do
          assert.is_truthy(NEEDS[name], "README.md:" .. b.line .. ": unknown need " .. name)
          program[#program + 1] = NEEDS[name]
        end
        program[#program + 1] = b.text
        prev = table.concat(program, "\n")
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir -p " .. dir) ~= false)
        write(dir .. "/block.lua", prev)
        local ok, out = sh("cd " .. dir .. " && " .. env .. "LUA_PATH='" .. ROOT .. "/lua/?.lua;" .. ROOT ..
          "/lua/?/init.lua;" .. ROOT .. "/?.lua;;' LUA_CPATH='" .. ROOT .. "/" .. interp.build ..
          "/lua/?.so;;' " .. interp.name .. " block.lua 2>&1")
        assert.is_true(ok, "README.md:" .. b.line .. ":\n" .. out)
        os.execute("rm -rf " .. dir)
      end
    end
  end)

  -- the shell blocks run lua5.4 and the runner (a Lua 5.4 binary) whatever
  -- interpreter runs the specs: they belong to the Lua 5.4 suites
  local shell_it = interp.primary and it or function() end
  shell_it("runs every shell block marked runnable, from the repository root", function()
    for _, b in ipairs(all) do
      if b.kind == "sh" then
        -- a script file, line by line as a user types it (bash -e: the
        -- first failing command fails the block), in a process group of its
        -- own (setsid), whose number it writes first. Its output goes to a
        -- file, not a pipe: a server the block starts in the background
        -- holds the file open, and the wait ends when bash does. Then the
        -- whole group is killed, whether the block passed or failed.
        local script, out_file, group_file = os.tmpname(), os.tmpname(), os.tmpname()
        write(script, "echo $$ > " .. group_file .. "\nset -e -o pipefail\n" .. b.text .. "\n")
        -- as a user's shell runs them: without the sanitizer build's
        -- LD_PRELOAD (the plain runner deadlocks with ASan preloaded)
        local ok = sh("env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS " .. env ..
          "PATH=" .. ROOT .. "/build:$PATH setsid -w bash " .. script .. " >" .. out_file .. " 2>&1")
        local group = tonumber(read(group_file) or "")
        if group then os.execute("bash -c 'kill -KILL -- -" .. group .. "' 2>/dev/null") end
        local out = read(out_file) or ""
        os.remove(script); os.remove(out_file); os.remove(group_file)
        assert.is_true(ok, "README.md:" .. b.line .. ":\n" .. b.text .. "\n--\n" .. out)
      end
    end
  end)
end)
