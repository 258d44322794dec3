-- Generated documentation stays in step with the code: the README's
-- operation table and docs/reference.md are regenerated and compared.
local function read(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

describe("generated documentation", function()
  it("the README's operation table is api/MAPPING.md's (make generate)", function()
    local rm = dofile("api/readme_mapping.lua")
    local readme = read("README.md")
    assert.are.equal(rm.apply(readme, read("api/MAPPING.md")), readme)
    local rows = 0
    for _ in readme:gmatch("\n| %u%w+ | %u+ `") do rows = rows + 1 end
    assert.are.equal(108, rows)
  end)

  it("docs/reference.md is what make docs writes", function()
    local out = os.tmpname()
    -- api/docs.lua is a Lua 5.4 tool (make docs), whatever runs the specs
    local ok, msg = require("support.sh")("lua5.4 api/docs.lua api/openapi.json lua/scenario/operations.lua "
      .. out .. " 2>&1 > /dev/null")
    assert.is_true(ok, msg)
    local fresh = read(out)
    os.remove(out)
    assert.is_true(fresh == read("docs/reference.md"), "docs/reference.md is stale: run make docs")
  end)
end)
