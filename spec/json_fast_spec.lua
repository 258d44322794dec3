-- The core's JSON decoder (csrc/json.c), the fast path of scenario.json.decode:
-- on every text it takes, the same value as the careful path (lua-cjson with
-- json.lua's rules: empty arrays marked, big integers as text), number types
-- and null included; every text it leaves is left to the careful path, so
-- json.decode's results and messages do not change.
local core = require "scenario.core"
local json = require "scenario.json"

-- 5.1, 5.2 and LuaJIT have one number type
local mtype = rawget(math, "type") or function() return "float" end

-- nil when a and b are the same decoded value, else where they differ
local function difference(a, b, path)
  path = path or "$"
  if type(a) ~= type(b) then return path .. ": " .. type(a) .. " vs " .. type(b) end
  if type(a) == "number" then
    if mtype(a) ~= mtype(b) then return path .. ": " .. mtype(a) .. " vs " .. mtype(b) end
    if a ~= a and b ~= b then return nil end         -- NaN (lua-cjson reads "NaN")
    if a ~= b or 1 / a ~= 1 / b then return path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    return nil
  end
  if type(a) ~= "table" then
    if a ~= b then return path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
    return nil
  end
  if getmetatable(a) ~= getmetatable(b) then return path .. ": metatables differ" end
  for k, v in pairs(a) do
    local d = difference(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) .. ": missing" end
  end
  return nil
end

local prng = require "support.prng"
local next_u = prng.new(2026)
local pick, some = prng.pickers(next_u)

local STRING_PIECES = { "plain", "é", "日本", "\\\"", "\\\\", "\\/", "\\b\\f\\n\\r\\t", "\\u00e9",
  "\\u0000", "\\uD83D\\uDE00", "\\ud83d\\ude00", "[]", "{}", ",", ":", "a long run of plain text here",
  "12345678901234567890", "\\u20AC", " " }
local NUMBERS = { "0", "-0", "1", "-1", "42", "3.25", "-2.5e3", "1E-7", "6.02e+23", "0.1",
  "9007199254740991", "9007199254740992", "-9007199254740993", "12345678901234567890",
  "1234567890123456", "123456789012345678901234567890", "1.5e300", "1e-320", "0.000001" }
local SPACE = { "", "", "", " ", "\n  ", "\t", "\r\n" }

local function text_of(depth)
  local r = next_u() % (depth > 4 and 3 or 7)
  if r == 0 then return '"' .. some(STRING_PIECES, 5) .. '"'
  elseif r == 1 then return pick(NUMBERS)
  elseif r == 2 then return pick { "true", "false", "null" }
  elseif r == 3 then return "[" .. pick(SPACE) .. "]"
  elseif r == 4 then return "{" .. pick(SPACE) .. "}"
  elseif r == 5 then
    local items = {}
    for i = 1, next_u() % 6 do items[i] = pick(SPACE) .. text_of(depth + 1) .. pick(SPACE) end
    return "[" .. table.concat(items, ",") .. "]"
  end
  local fields = {}
  for i = 1, next_u() % 6 do
    fields[i] = pick(SPACE) .. '"k' .. (next_u() % 8) .. pick { "", "\\u00e9", "\\n" } .. '"' .. pick(SPACE)
      .. ":" .. pick(SPACE) .. text_of(depth + 1) .. pick(SPACE)
  end
  return "{" .. table.concat(fields, ",") .. "}"
end

describe("the core's JSON decoder", function()
  it("decodes 2,000 generated texts as the careful path does", function()
    for _ = 1, 2000 do
      local text = text_of(0)
      local fast = core.json_decode(text, json.array_mt)
      assert.is_not_nil(fast, "the fast path took " .. text)
      local careful = json._decode_careful(text)
      local d = difference(fast, careful)
      assert.is_nil(d, text .. ": " .. tostring(d))
    end
  end)

  it("decodes the job record of the benchmarks and a page of assets", function()
    local record = io.open("bench/job.json"):read("*a")
    assert.is_nil(difference(core.json_decode(record, json.array_mt), json._decode_careful(record)))
    local items = {}
    for i = 1, 300 do
      items[i] = ('{"id":"asset_%d","tags":[],"url":"https://cdn.example/a%d.png?sig=\\u0026x","size":%d}')
        :format(i, i, i * 1000)
    end
    local page = '{"assets":[' .. table.concat(items, ",") .. '],"nextPaginationToken":null}'
    local v = core.json_decode(page, json.array_mt)
    assert.is_nil(difference(v, json._decode_careful(page)))
    assert.are.equal(300, #v.assets)
    assert.are.equal(json.array_mt, getmetatable(v.assets[300].tags))
    assert.are.equal(json.null, v.nextPaginationToken)
  end)

  it("decodes long escaped strings at every depth (a buffer's pieces on the stack of Lua 5.1)", function()
    local long = "\\n" .. string.rep("x", 100 * 1024)
    local text = "1"
    for _ = 1, 40 do text = '{"s":"' .. long .. '","o":' .. text .. "}" end
    local v = core.json_decode(text, json.array_mt)
    assert.is_not_nil(v)
    assert.is_nil(difference(v, json._decode_careful(text)))
  end)

  it("leaves to the careful path what is not JSON, and json.decode says what lua-cjson says", function()
    local deep = string.rep("[", 300) .. string.rep("]", 300)
    for _, text in ipairs { "", " ", "[1,]", "{\"a\":1,}", "[01]", "[1 2]", "{\"a\" 1}", "{1:2}", "[.5]",
        "[1.]", "[1e]", "[-]", "[+1]", "NaN", "[Infinity]", "[0x10]", "\"\\x\"", "\"\\u12\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "\"a\0b\"", "[1] x", "[1]]",
        "{\"a\":[}", "tru", "nul", "[true false]", "\"open", "[\"a\\", deep, "{\"a\":1}{",
        "[,1]", "[1,,2]", "{,}", "{\"a\":,1}", "{" .. string.rep(",", 100000) } do
      assert.is_nil(core.json_decode(text, json.array_mt), "the fast path refused " .. text)
      local v1, e1 = json.decode(text)
      local v2, e2 = json._decode_careful(text)
      assert.is_nil(difference(v1, v2), text)
      assert.are.equal(e2, e1)
    end
  end)

  it("never takes a damaged text the careful path decodes otherwise", function()
    for _ = 1, 3000 do
      local text = text_of(0)
      local n = #text
      for _ = 1, 1 + next_u() % 3 do
        local at = next_u() % n + 1
        local with = pick { "", ",", "]", "[", "}", "{", '"', "\\", "0", "-", ".", "e", " ", "\0", "\1", "x" }
        text = text:sub(1, at - 1) .. with .. text:sub(at + 1)
        n = #text
        if n == 0 then break end
      end
      local fast = core.json_decode(text, json.array_mt)
      if fast ~= nil then
        local careful = json._decode_careful(text)
        assert.is_nil(difference(fast, careful), ("%q"):format(text))
      end
    end
  end)

  it("is what json.decode uses, and an array_mt-less call leaves empty arrays plain", function()
    local v = core.json_decode('{"a":[],"b":{}}')
    assert.is_nil(getmetatable(v.a))
    assert.are.equal(json.array_mt, getmetatable(json.decode('{"a":[]}').a))
    assert.has_error(function() core.json_decode({}) end)
    assert.has_error(function() core.json_decode("[]", "mt") end)
  end)
end)
