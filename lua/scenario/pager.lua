--- Pagination: lazy iterators over the list operations that take a
-- paginationToken. A page is fetched only when the loop needs it; iteration
-- stops when an answer carries no nextPaginationToken, or after `limit` items.
--   for asset in client.assets:each { pageSize = 100, limit = 250 } do ... end
--   for page in client.jobs:pages { status = "success" } do ... end
-- A failed page raises its scenario.Error (wrap the loop in pcall to handle it).
local compat = require "scenario.compat"
local loop = require "scenario.loop"

local M = {}

-- the array of items in a page: the one table-valued field of the answer
local function items_of(body)
  local keys = {}
  for k, v in pairs(body) do
    if k ~= "nextPaginationToken" and type(v) == "table" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  return keys[1] and body[keys[1]] or {}
end
M.items_of = items_of

-- Splits a resource method's arguments into path arguments, fields, options.
local function split_args(n_path, ...)
  local args = compat.pack(...)
  local path_args, i = {}, 1
  while i <= n_path and (type(args[i]) == "string" or type(args[i]) == "number") do
    path_args[i] = args[i]
    i = i + 1
  end
  return path_args, args[i] or {}, args[i + 1]
end

--- Returns (pages, each) methods for a list method of n_path path parameters.
function M.methods(list_method, n_path)
  local function pages(self, ...)
    local path_args, fields, options = split_args(n_path, ...)
    local f = {}
    for k, v in pairs(fields) do f[k] = v end
    f.limit = nil
    local token, done = f.paginationToken, false
    return function()
      if done then return nil end
      f.paginationToken = token
      local call = compat.slice(path_args, 1, #path_args)
      call[#call + 1] = f
      call[#call + 1] = options
      -- called by a generic for: on PUC 5.1 its wait steps the loop in place
      -- a resource method gives page, answer, response; client:call page,
      -- response: the response is the last value either way
      local r = compat.pack(loop.no_yield(list_method, self, compat.unpack(call, 1, #path_args + 2)))
      local body = r[1]
      if not body then error(r[2], 0) end
      token = body.nextPaginationToken
      if token == nil or token == "" or token == f.paginationToken then done = true end
      return body, r[r.n]
    end
  end

  local function each(self, ...)
    local _, fields = split_args(n_path, ...)
    local limit = fields.limit
    local next_page = pages(self, ...)
    local items, i, count = {}, 0, 0
    return function()
      if limit and count >= limit then return nil end
      while i >= #items do
        local body = next_page()
        if not body then return nil end
        items, i = items_of(body), 0
      end
      i = i + 1
      count = count + 1
      return items[i]
    end
  end

  return pages, each
end

return M
