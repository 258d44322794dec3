-- Copies the operationId -> method table of api/MAPPING.md into README.md,
-- between the markers <!-- mapping:start --> and <!-- mapping:end -->.
--   lua5.4 api/readme_mapping.lua README.md api/MAPPING.md   (run by make generate)
-- run as a script (not loaded by a test): arguments are the two files
local as_script = arg and type(arg[0]) == "string" and arg[0]:match("readme_mapping%.lua$")
local readme_path, mapping_path = as_script and arg[1], as_script and arg[2]

local function read(p)
  local f = assert(io.open(p, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local M = {}

--- The table rows of MAPPING.md (its lines starting with "|").
function M.table_of(mapping)
  local rows = {}
  for line in mapping:gmatch("[^\n]+") do
    if line:sub(1, 1) == "|" then rows[#rows + 1] = line end
  end
  return table.concat(rows, "\n")
end

function M.apply(readme, mapping)
  local start, stop = "<!-- mapping:start -->", "<!-- mapping:end -->"
  local a = assert(readme:find(start, 1, true), "README has no mapping:start marker")
  local b = assert(readme:find(stop, 1, true), "README has no mapping:end marker")
  return readme:sub(1, a + #start - 1) .. "\n" .. M.table_of(mapping) .. "\n" .. readme:sub(b)
end

if readme_path then
  local out = M.apply(read(readme_path), read(mapping_path))
  local f = assert(io.open(readme_path, "wb"))
  f:write(out)
  f:close()
end

return M
