--- Reading a command's words: flags (--wait), options with a value
-- (--out DIR, --out=DIR), fields (key=value, key:=JSON) and positional
-- words; and the start every command shares (parse, ui, --help).
local output = require "scenario.runner.output"

local M = {}

local COMMON_FLAGS = { json = true, quiet = true, help = true }

-- An option word ("--name" or "--name=value") into o; i: its index in
-- words. Returns the index of the last word used, or nil, message.
local function read_option(o, words, i, spec)
  local w = words[i]
  local name, value = w:match("^%-%-([^=]+)=(.*)$")
  name = name or w:sub(3)
  if spec.values and spec.values[name] then
    if value == nil then
      i = i + 1
      value = words[i]
      if value == nil then return nil, "--" .. name .. " needs a value" end
    end
    o.values[name] = value
  elseif COMMON_FLAGS[name] or (spec.flags and spec.flags[name]) then
    if value ~= nil then return nil, "--" .. name .. " takes no value" end
    o.flags[name] = true
  else
    return nil, "unknown option --" .. name
  end
  return i
end

--- Splits a command's words into o.flags, o.values (options with a value),
-- o.fields (key=value, key:=JSON, when spec.fields: a list of { key, value,
-- json }) and o.positional. `--` makes every later word positional.
-- spec: flags, values (name -> true), fields (true). Returns o or nil, message.
function M.parse(words, spec)
  local o = { flags = {}, values = {}, fields = {}, positional = {} }
  local only_positional = false
  local i = 1
  while i <= #words do
    local w = words[i]
    if only_positional then
      o.positional[#o.positional + 1] = w
    elseif w == "--" then
      only_positional = true
    elseif w:sub(1, 2) == "--" then
      local last, err = read_option(o, words, i, spec)
      if not last then return nil, err end
      i = last
    elseif w == "-h" then
      o.flags.help = true
    elseif w == "-q" then
      o.flags.quiet = true
    elseif w:sub(1, 1) == "-" and #w > 1 then
      return nil, "unknown option " .. w
    elseif spec.fields and w:find("^[%a_][%w_%-%.]*:?=") then
      local key, raw, value = w:match("^([%a_][%w_%-%.]*)(:?)=(.*)$")
      o.fields[#o.fields + 1] = { key = key, value = value, json = raw == ":" }
    else
      o.positional[#o.positional + 1] = w
    end
    i = i + 1
  end
  return o
end

--- Parses words (spec as for parse) and makes the command's ui. Returns
-- o, ui when the command goes on; nil, ui, exit status when the words were
-- bad (reported) or --help was asked (help printed, when given: every %s of
-- it is the runner's name).
function M.begin(name, words, host, spec, help)
  local o, perr = M.parse(words, spec)
  local ui = output.new_ui(o and o.flags, host, not o and words)
  if not o then return nil, ui, ui:fail(output.usage_error(perr, name)) end
  if o.flags.help and help then
    local p = output.progname
    ui:out(string.format(help, p, p, p))
    return nil, ui, output.EXIT.ok
  end
  return o, ui
end

return M
