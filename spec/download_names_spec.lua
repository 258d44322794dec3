-- Download names never collide (issue 15): asset ids that sanitise to the
-- same file name ("a/b" and "a_b"), the same id twice, ids differing only in
-- case, and a file already in the target directory each keep their own
-- file; the list has one path per asset and nothing is overwritten.
-- The simulator makes its own asset ids, so the colliding ids are given to
-- download.assets (what job:download calls) with the URLs of real outputs.
local download = require "scenario.download"
local sim_mod = require "support.sim"
local files = require "support.files"
local read, write, listing = files.read, files.write, files.ls

local function escape(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

describe("download names", function()
  local sim, client, job, outputs, bytes, dir
  setup(function()
    sim = sim_mod.start()
    client = sim:client()
    job = assert(client.generate:txt2img { modelId = "m", prompt = "two", numSamples = 2 })
    assert(job:wait())
    outputs = assert(job:assets())
    bytes = { sim_mod.fetch(outputs[1].url), sim_mod.fetch(outputs[2].url) }
    -- two different images: a file with the other's bytes would show
    assert.are_not.equal(bytes[1], bytes[2])
  end)
  teardown(function() sim:stop() end)
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
  end)
  after_each(function()
    for _, name in ipairs(listing(dir)) do os.remove(dir .. "/" .. name) end
    os.remove(dir)
  end)

  -- an asset record with the given id and the URL of output i
  local function asset(id, i)
    return { id = id, url = outputs[i].url, mimeType = "image/png" }
  end

  it("gives ids that sanitise to the same name a file each, with its own bytes", function()
    local paths = assert(download.assets(client, { asset("a/b", 1), asset("a_b", 2) }, dir))
    assert.are.equal(2, #paths)
    assert.matches("^" .. escape(dir) .. "/a_b%-%x%x%x%x%x%x%x%x%.png$", paths[1])
    assert.are.equal(dir .. "/a_b.png", paths[2])
    assert.are.equal(bytes[1], read(paths[1]))
    assert.are.equal(bytes[2], read(paths[2]))
    assert.are.equal(2, #listing(dir))
  end)

  it("gives the same id twice, and ids differing in case, a file each", function()
    local paths = assert(download.assets(client,
      { asset("x", 1), asset("x", 2), asset("Case", 1), asset("case", 2) }, dir))
    assert.are.same({ dir .. "/x.png", paths[2], dir .. "/Case.png", paths[4] }, paths)
    assert.matches("/x%-%x+%.png$", paths[2])
    assert.matches("/case%-%x+%.png$", paths[4])
    assert.are.equal(bytes[1], read(paths[1]))
    assert.are.equal(bytes[2], read(paths[2]))
    assert.are.equal(bytes[1], read(paths[3]))
    assert.are.equal(bytes[2], read(paths[4]))
    assert.are.equal(4, #listing(dir))
  end)

  it("never overwrites a file already in the directory", function()
    assert(download.ensure_dir(dir))
    write(dir .. "/a_b.png", "mine")
    local first = assert(download.assets(client, { asset("a_b", 1) }, dir))
    assert.are_not.equal(dir .. "/a_b.png", first[1])
    assert.are.equal("mine", read(dir .. "/a_b.png"))
    assert.are.equal(bytes[1], read(first[1]))
    -- again: both earlier files stay, a third name is found
    local second = assert(download.assets(client, { asset("a_b", 2) }, dir))
    assert.are_not.equal(first[1], second[1])
    assert.are.equal(bytes[1], read(first[1]))
    assert.are.equal(bytes[2], read(second[1]))
    assert.are.equal("mine", read(dir .. "/a_b.png"))
    assert.are.equal(3, #listing(dir))
  end)

  it("job:download twice into one directory keeps both downloads, one path per asset", function()
    local a = assert(job:download(dir))
    local b = assert(job:download(dir))
    assert.are.equal(2, #a)
    assert.are.equal(2, #b)
    local seen = {}
    for _, p in ipairs { a[1], a[2], b[1], b[2] } do
      assert.is_nil(seen[p], p)
      seen[p] = true
    end
    assert.are.equal(dir .. "/" .. outputs[1].id .. ".png", a[1])
    assert.are.equal(bytes[1], read(a[1]))
    assert.are.equal(bytes[2], read(a[2]))
    assert.are.equal(bytes[1], read(b[1]))
    assert.are.equal(bytes[2], read(b[2]))
    assert.are.equal(4, #listing(dir))
  end)

  it("names by a hash of the id that is the same on every interpreter", function()
    local names = download.file_names({
      { id = "a/b", mimeType = "image/png" }, { id = "a_b", mimeType = "image/png" },
      { id = string.rep("x", 250) }, {},
    }, dir)
    assert.are.same({ dir .. "/a_b-16d31f3e.png", dir .. "/a_b.png",
      dir .. "/" .. string.rep("x", 200) .. "-4e0b5f99.bin", dir .. "/asset.bin" }, names)
  end)
end)
