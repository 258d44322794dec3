-- Generated documentation stays in step with the code: the README's
-- operation table and docs/reference.md are regenerated and compared.
local function read(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
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
    assert.is_true(os.execute("lua5.4 api/docs.lua api/openapi.json lua/scenario/operations.lua "
      .. out .. " > /dev/null") == true)
    local fresh = read(out)
    os.remove(out)
    assert.is_true(fresh == read("docs/reference.md"), "docs/reference.md is stale: run make docs")
  end)
end)
