-- What differs between Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT, seen from the SDK:
-- the same answers on every interpreter the suite runs on (README, "Lua
-- versions"). None of these depends on the interpreter: each case holds on all five.
local compat = require "scenario.compat"
local json = require "scenario.json"
local util = require "scenario.util"
local validate = require "scenario.validate"
local operations = require "scenario.operations"

describe("numbers without an integer subtype", function()
  it("decodes an answer's integers past 2^53 as their decimal strings, never rounded", function()
    local v = assert(json.decode('{"id":12345678901234567890,"n":9007199254740993,' ..
      '"neg":-99999999999999999999,"small":9007199254740991,"s":"x\\"9999999999999999999",' ..
      '"f":0.0022709344248362305,"e":1e300,"list":[18446744073709551616]}'))
    assert.are.equal("12345678901234567890", v.id)
    assert.are.equal("9007199254740993", v.n)
    assert.are.equal("-99999999999999999999", v.neg)
    assert.are.equal(9007199254740991, v.small)          -- exact in a double: a number
    assert.are.equal('x"9999999999999999999', v.s)       -- digits inside a string untouched
    assert.are.equal(0.0022709344248362305, v.f)         -- fractions and exponents are numbers
    assert.are.equal(1e300, v.e)
    assert.are.equal("18446744073709551616", v.list[1])
  end)

  it("looks for long digit runs with the C core's byte scan, at the run's exact length", function()
    local digit_run = require("scenario.core").digit_run
    assert.is_true(digit_run("a1234567890123456b", 16))
    assert.is_false(digit_run("a123456789012345b6", 16))
    assert.is_false(digit_run("1234567 1234567890", 16))
    assert.is_true(digit_run("x9", 1))
    assert.is_false(digit_run("", 1))
    assert.is_false(digit_run("x\0001234567890123456", 17))
    assert.has_error(function() digit_run("1", 0) end)
    assert.is_false(digit_run("123", 2 ^ 40))
    -- the scan looks at every n-th byte: against a plain count, on runs of
    -- every length at every offset
    math.randomseed(7)
    for _ = 1, 2000 do
      local parts = {}
      for _ = 1, math.random(0, 6) do
        parts[#parts + 1] = ("7"):rep(math.random(0, 20)) .. ("x-."):sub(1, math.random(1, 3))
      end
      local s = table.concat(parts):sub(math.random(1, 3))
      local n = math.random(1, 20)
      local longest = 0
      for run in s:gmatch("%d+") do longest = math.max(longest, #run) end
      assert.are.equal(longest >= n, digit_run(s, n), string.format("%q, %d", s, n))
    end
    -- an answer whose only 16-digit run is exactly 2^53 stays a number
    assert.are.equal("9007199254740992", json.decode('{"n":9007199254740992}').n)
    assert.are.equal(9007199254740991, json.decode('{"n":9007199254740991}').n)
  end)

  it("encodes integral numbers without a fraction, whatever their subtype", function()
    assert.are.equal('{"a":3,"b":9007199254740991,"c":1152921504606846976,"d":1.5,"e":-7}',
      json.encode { a = 3.0, b = 2 ^ 53 - 1, c = 2 ^ 60, d = 1.5, e = -7 })
    assert.are.equal("3", util.scalar(3.0))
    assert.are.equal("limit=10&x=2.5", util.query_string { limit = 10.0, x = 2.5 })
  end)

  it("tells integers from fractions and non-numbers alike on every version", function()
    assert.is_true(compat.is_integer(3))
    assert.is_true(compat.is_integer(3.0))
    assert.is_false(compat.is_integer(3.5))
    assert.is_false(compat.is_integer(math.huge))
    assert.is_false(compat.is_integer(0 / 0))
    assert.is_false(compat.is_integer("3"))
    assert.are.equal(4, compat.tointeger(4.0))
    assert.is_nil(compat.tointeger(4.5))
  end)

  it("refuses a holed array and mixed keys, and writes a 1..n list as an array", function()
    assert.are.equal("[1,2,3,4]", json.encode { 1, 2, 3, 4 })
    local holed = { 1, 2 }
    holed[4] = 4
    local s, err = json.encode(holed)
    assert.is_nil(s)
    assert.matches("holes", err)
    s, err = json.encode { 1, x = 2 }
    assert.is_nil(s)
    assert.matches("mixes array items and named fields", err)
  end)
end)

describe("strings and bytes", function()
  it("counts UTF-8 characters for maxLength, not bytes", function()
    assert.are.equal(5, compat.utf8_len("héllo"))
    assert.are.equal(3, compat.utf8_len("abc"))
    -- name: maxLength 64; 64 two-byte characters are 128 bytes and pass
    local r, errs = validate.check(operations.PostModels, { name = string.rep("é", 64) })
    assert.is_table(r, errs and table.concat(errs, "\n"))
    r, errs = validate.check(operations.PostModels, { name = string.rep("é", 65) })
    assert.is_nil(r)
    assert.same({ "name: must be at most 64 characters long (got 65)" }, errs)
  end)

  it("base64-encodes with arithmetic (no bit operators on 5.1)", function()
    local cases = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
      fooba = "Zm9vYmE=", foobar = "Zm9vYmFy", ["\255\254\253"] = "//79" }
    for input, expected in pairs(cases) do
      assert.are.equal(expected, util.base64(input))
    end
  end)
end)

describe("shared helpers of the messages", function()
  local format = require "scenario.format"

  it("names a value's place in a body the same way for validation and encoding", function()
    assert.are.equal("prompt", format.field_path(nil, "prompt"))
    assert.are.equal(".x", format.field_path("", "x"))     -- below a field of an empty name
    assert.are.equal("[2]", format.field_path(nil, 2))
    assert.are.equal("images[2]", format.field_path("images", 2))
    assert.are.equal("input.modelId", format.field_path("input", "modelId"))
    assert.are.equal("input", format.field_path("input", nil))
    assert.is_nil(format.field_path(nil, nil))
  end)

  it("sorts a fixed table's string keys once and keeps them", function()
    local t = { b = 1, a = 2, [3] = "x", c = 3 }
    local keys = util.sorted_keys_of(t)
    assert.are.same({ "a", "b", "c" }, keys)
    assert.are.equal(keys, util.sorted_keys_of(t))      -- kept, not made again
    assert.are.same({}, util.sorted_keys_of({}))
  end)
end)
