--- The commands of the scenario-lua runner, for shell users. csrc/main.c
-- calls main(words, host) when its first argument is a command name:
--
--   generate <type> key=value... [--wait] [--out DIR] [--dry-run]
--   upload FILE [--kind K]
--   download ASSET_ID... [--out DIR]
--   jobs get|wait|cancel ID... [--out DIR]
--   call OPERATION_ID key=value... [--dry-run]
--   ops [FILTER]
--   help
--
-- Every command takes --json (one JSON document on stdout, nothing else
-- there), --quiet (no progress bars) and --help. Exit status: 0 success,
-- 1 API or runtime error, 2 usage or validation error, 3 a job failed or
-- was canceled (130 after Ctrl-C, set by main.c).
--
-- This module also keeps the registry of live jobs and downloads (`watch`),
-- so that an interrupted run (a command or any script) can name the jobs
-- still running and remove its partial files. The runner loads it when
-- scenario.job is first required, so it requires the SDK's modules lazily.
local compat = require "scenario.compat"

local M = {}

-- keep in step with COMMANDS in csrc/main.c
M.COMMANDS = { "generate", "upload", "download", "jobs", "call", "ops", "help" }

M.EXIT = { ok = 0, error = 1, usage = 2, job = 3, interrupted = 130 }

local progname = "scenario-lua"
local current -- the running command's ui, for `interrupted`

-- Registry of live jobs and downloads ---------------------------------------

local live_jobs = setmetatable({}, { __mode = "k" }) -- Job -> creation number
local created = 0
local writing = {} -- download target path -> transfers writing it

--- Wraps scenario.job's constructor and scenario.download's url() as they
-- load (see csrc/main.c), to know which jobs exist and which files are
-- being written.
function M.watch(name, module)
  if name == "scenario.job" then
    local new = module.new
    module.new = function(...)
      local job = new(...)
      created = created + 1
      live_jobs[job] = created
      return job
    end
  elseif name == "scenario.download" then
    local url = module.url
    module.url = function(client, from, path, opts)
      writing[path] = (writing[path] or 0) + 1
      local results = compat.pack(url(client, from, path, opts))
      writing[path] = writing[path] - 1
      if writing[path] == 0 then writing[path] = nil end
      return compat.unpack(results, 1, results.n)
    end
  end
end

--- Jobs made in this process whose last known status is not terminal,
-- oldest first.
function M.running_jobs()
  local list = {}
  for job in pairs(live_jobs) do
    if job.id and not job:outcome() then list[#list + 1] = job end
  end
  table.sort(list, function(a, b) return live_jobs[a] < live_jobs[b] end)
  local seen, out = {}, {}
  for _, job in ipairs(list) do
    if not seen[job.id] then
      seen[job.id] = true
      out[#out + 1] = job
    end
  end
  return out
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local write_json

--- Called by main.c after Ctrl-C stopped the run: says so, names the jobs
-- still running, removes the temporary files of unfinished downloads.
-- The transfers themselves stop when the Lua state closes.
function M.interrupted()
  if current and current.active_bar then current.active_bar:clear() end
  io.stderr:write(progname, ": interrupted\n")
  local ids = {}
  for _, job in ipairs(M.running_jobs()) do
    ids[#ids + 1] = job.id
    io.stderr:write(progname, ": job ", job.id, " is still running; resume with: ",
      progname, " jobs wait ", job.id, "\n")
  end
  for path in pairs(writing) do
    os.execute("rm -f -- " .. shell_quote(path) .. ".part-*")
  end
  if current and current.json then
    write_json { error = { kind = "interrupted", message = "interrupted" },
      running_jobs = require("scenario.json").array(ids) }
  end
end

-- Output ---------------------------------------------------------------------

write_json = function(doc)
  local json = require "scenario.json"
  local text, err = json.encode(doc)
  if not text then
    text = json.encode { error = { kind = "io", message = "cannot encode the result: " .. err } }
  end
  io.stdout:write(text, "\n")
  io.stdout:flush()
end

local function is_list(t)
  local json = require "scenario.json"
  if json.is_array(t) then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

-- JSON for people: indented, keys sorted.
local function pretty(v, indent, out)
  local json = require "scenario.json"
  indent = indent or ""
  out = out or {}
  if type(v) ~= "table" or v == json.null then
    out[#out + 1] = json.encode(v) or json.quote(tostring(v))
    return out
  end
  local inner = indent .. "  "
  if is_list(v) then
    if #v == 0 then
      out[#out + 1] = "[]"
      return out
    end
    out[#out + 1] = "[\n"
    for i = 1, #v do
      out[#out + 1] = inner
      pretty(v[i], inner, out)
      out[#out + 1] = i < #v and ",\n" or "\n"
    end
    out[#out + 1] = indent .. "]"
    return out
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  if #keys == 0 then
    out[#out + 1] = "{}"
    return out
  end
  out[#out + 1] = "{\n"
  for i, k in ipairs(keys) do
    out[#out + 1] = inner .. json.quote(k) .. ": "
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    pretty(val, inner, out)
    out[#out + 1] = i < #keys and ",\n" or "\n"
  end
  out[#out + 1] = indent .. "}"
  return out
end
M.pretty = function(v) return table.concat(pretty(v)) end

-- Errors ---------------------------------------------------------------------

-- A usage error of the runner itself (not of the SDK).
local function usage_error(message, command)
  return { kind = "usage", message = message, command = command, exit = M.EXIT.usage }
end

local function exit_status(err)
  if err.exit then return err.exit end
  if err.kind == "validation" then return M.EXIT.usage end
  if err.kind == "job_failed" or err.kind == "job_canceled" then return M.EXIT.job end
  return M.EXIT.error
end

local ERROR_FIELDS = { "kind", "message", "status", "request_id", "operation", "retryable",
  "problems", "body", "attempts" }

local function error_doc(err)
  local doc = {}
  for _, k in ipairs(ERROR_FIELDS) do
    if type(err[k]) ~= "function" then doc[k] = err[k] end
  end
  if type(err.job) == "table" then doc.job_id = err.job.id end
  if doc.problems then doc.problems = require("scenario.json").array(doc.problems) end
  return doc
end

local function error_text(err)
  if getmetatable(err) and getmetatable(err).__tostring then
    return (tostring(err):gsub("^scenario: ", ""))
  end
  return tostring(err.message)
end

-- A Lua error raised by the SDK (scenario.new raises on bad configuration).
local function as_error(e)
  local errors = require "scenario.errors"
  if errors.is(e) then return e end
  return errors.new { kind = "validation", message = tostring(e) }
end

-- The ui of one command: where its output goes. -------------------------------

local Ui = {}
Ui.__index = Ui

local function new_ui(flags, host, words)
  if words then -- the parse failed: --json still decides the output
    flags = {}
    for _, w in ipairs(words) do
      if w == "--" then break end
      if w == "--json" then flags.json = true end
    end
  end
  current = setmetatable({
    json = flags.json and true or false,
    quiet = flags.quiet and true or false,
    host = host,
  }, Ui)
  return current
end

--- A progress bar, drawn only when stderr is a terminal and not --quiet.
function Ui:bar(label)
  local progress = require "scenario.progress"
  local bar = progress.new { enabled = self.host.stderr_tty and not self.quiet,
    label = label, columns = self.host.columns }
  self.active_bar = bar
  return bar
end

--- A line of human output (nothing with --json).
function Ui:say(...)
  if not self.json then
    io.stdout:write(table.concat({ ... }), "\n")
  end
end

--- Reports err on stderr (and as the JSON document); returns the exit status.
-- extra: more fields for the JSON document.
function Ui:fail(err, extra)
  if self.active_bar then self.active_bar:clear() end
  local text = error_text(err)
  if err.kind == "validation" and type(err.problems) == "table" and #err.problems > 1 then
    text = text:gsub(":.*$", ":")
    for _, p in ipairs(err.problems) do text = text .. "\n  " .. p end
  end
  io.stderr:write(progname, ": ", text, "\n")
  if err.kind == "usage" then
    io.stderr:write("see '", progname, " ", err.command and (err.command .. " ") or "",
      "--help'\n")
  end
  if self.json then
    local doc = { error = error_doc(err) }
    for k, v in pairs(extra or {}) do doc[k] = v end
    write_json(doc)
  end
  return exit_status(err)
end

--- Ends a successful command: the JSON document with --json.
function Ui:done(doc)
  if self.json then write_json(doc) end
  return M.EXIT.ok
end

-- Arguments ------------------------------------------------------------------

local COMMON_FLAGS = { json = true, quiet = true, help = true }

--- Splits a command's words into flags (--wait), options with a value
-- (--out DIR, --out=DIR), fields (key=value, key:=JSON, when spec.fields)
-- and positional words. `--` makes every later word positional.
-- Returns the parse or nil, message.
local function parse(words, spec)
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

-- Typing key=value by the operation's constraints ----------------------------

local BOOLEANS = { ["true"] = true, ["false"] = false, yes = true, no = false,
  on = true, off = false, ["1"] = true, ["0"] = false }

local function number_text(s)
  return s:match("^%-?%d+%.?%d*$") or s:match("^%-?%d*%.%d+$")
    or s:match("^%-?%d+%.?%d*[eE][-+]?%d+$") or s:match("^%-?%d*%.%d+[eE][-+]?%d+$")
end

local function decode_json(raw, key)
  local json = require "scenario.json"
  local v, err = json.decode(raw)
  if v == nil then return nil, key .. ": not valid JSON (" .. tostring(err) .. ")" end
  return v
end

-- A value the document does not type (free-form bodies such as
-- custom:<modelId>, unknown fields): numbers, true/false and JSON arrays or
-- objects are taken as such, anything else is a string.
local function infer(raw, key)
  if raw == "true" then return true end
  if raw == "false" then return false end
  if number_text(raw) then return compat.tointeger(tonumber(raw)) or tonumber(raw) end
  if raw:match("^%s*[%[{]") then return decode_json(raw, key) end
  return raw
end

local typed

local function typed_array(node, raw, key)
  if raw:match("^%s*%[") then return decode_json(raw, key) end
  local items = require("scenario.json").array()
  if raw == "" then return items end
  for part in (raw .. ","):gmatch("(.-),") do
    local v, err = typed(node.items, part, key .. "[" .. (#items + 1) .. "]")
    if v == nil then return nil, err end
    items[#items + 1] = v
  end
  return items
end

-- The Lua value of `raw` for a constraint. A value that does not fit (a
-- number field given "abc") is passed on as typed so far: the SDK's
-- validation then names the field and says what it must be.
typed = function(node, raw, key)
  local t = node and node.type
  if t == "string" then return raw end
  if t == "integer" or t == "number" then
    if not number_text(raw) then return raw end
    local n = tonumber(raw)
    return compat.tointeger(n) or n
  end
  if t == "boolean" then
    local b = BOOLEANS[raw:lower()]
    if b == nil then return raw end
    return b
  end
  if t == "array" then return typed_array(node, raw, key) end
  if t == "object" then
    if raw:match("^%s*{") then return decode_json(raw, key) end
    return raw
  end
  return infer(raw, key)
end

-- The constraint of a field of an operation, or nil when it has none.
local function field_node(op, key)
  for _, p in ipairs(op.path_params or {}) do
    if p == key then return { type = "string" } end
  end
  if op.query and op.query[key] then return op.query[key] end
  if op.body and op.body.properties and op.body.properties[key] then
    return op.body.properties[key]
  end
  if key == "projectId" then return { type = "string" } end
end

--- The fields table for an operation from key=value words; nil, problems
-- when a value cannot be read (bad JSON, a key given twice).
local function typed_fields(op, list)
  local fields, problems = {}, {}
  for _, f in ipairs(list) do
    local v, err
    if f.json then
      v, err = decode_json(f.value, f.key)
    else
      v, err = typed(field_node(op, f.key), f.value, f.key)
    end
    if fields[f.key] ~= nil then
      problems[#problems + 1] = f.key .. ": given twice"
    elseif v == nil then
      problems[#problems + 1] = err
    else
      fields[f.key] = v
    end
  end
  if #problems > 0 then
    return nil, require("scenario.errors").new { kind = "validation", operation = op.id,
      problems = problems, message = table.concat(problems, "; ") }
  end
  return fields
end

-- Describing an operation's fields, for --help ---------------------------------

local function describe_node(node)
  if not node then return "any" end
  local t = node.type or "any"
  if t == "array" then
    t = "array of " .. ((node.items and node.items.type) or "any") .. " (a,b,c or JSON)"
  elseif t == "object" then
    t = "object (JSON)"
  end
  local parts = { t }
  if node.enum then
    local shown = {}
    for i = 1, math.min(#node.enum, 8) do shown[i] = tostring(node.enum[i]) end
    parts[#parts + 1] = "one of " .. table.concat(shown, ", ") .. (#node.enum > 8 and ", ..." or "")
  end
  if node.minimum or node.maximum then
    parts[#parts + 1] = (node.minimum and tostring(node.minimum) or "") .. ".." ..
      (node.maximum and tostring(node.maximum) or "")
  end
  return table.concat(parts, ", ")
end

local function field_lines(op)
  local rows = {}
  local required = {}
  for _, name in ipairs(op.body and op.body.required or {}) do required[name] = true end
  for _, name in ipairs(op.path_params or {}) do
    rows[#rows + 1] = { name, "string, required (path)" }
  end
  local function add(map, where, is_required)
    local names = {}
    for name in pairs(map or {}) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local node = map[name]
      local text = describe_node(node)
      if is_required(name, node) then text = text .. ", required" end
      rows[#rows + 1] = { name, text .. where }
    end
  end
  add(op.query, " (query)", function(_, node) return node.required end)
  add(op.body and op.body.properties, "", function(name) return required[name] end)
  local lines = {}
  for _, r in ipairs(rows) do lines[#lines + 1] = string.format("  %-26s %s", r[1], r[2]) end
  if op.body and not op.body.properties and not op.body_is_array then
    lines[#lines + 1] = "  (any fields: the body is free-form)"
  end
  if #lines == 0 then lines[1] = "  (no fields)" end
  return table.concat(lines, "\n")
end

-- The client -----------------------------------------------------------------

local function new_client(flags)
  local scenario = require "scenario"
  local opts = { strict = not flags["send-unknown"] }
  local poll = tonumber(os.getenv("SCENARIO_POLL_INTERVAL") or "")
  if poll and poll >= 0 then opts.poll_interval = poll end
  local ok, client = pcall(scenario.new, opts)
  if not ok then return nil, as_error(client) end
  return client
end

-- 5 rather than 5.0 (JSON numbers decode as floats)
local function number_text_of(v)
  if compat.is_integer(v) and math.abs(v) < 2^53 then
    return compat.integer_text(v)
  end
  return tostring(v)
end

local function is_job(v)
  return type(v) == "table" and getmetatable(v) == require("scenario.job").Job
end

local function job_line(job)
  return string.format("%s  %s  %d%%%s", tostring(job.id), tostring(job.status),
    math.floor((job.progress or 0) * 100 + 0.5), job.type and ("  " .. job.type) or "")
end

local function timeout_of(o)
  local t = o.values.timeout
  if t == nil then return 600 end
  return tonumber(t)
end

-- Waits for jobs under one progress bar. Returns errors by job id (empty
-- when all succeeded).
local function wait_jobs(ui, client, jobs, timeout)
  local label = #jobs == 1 and tostring(jobs[1].id) or (#jobs .. " jobs")
  local bar = ui:bar(label)
  local function state()
    local sum, running = 0, 0
    for _, j in ipairs(jobs) do
      local outcome = j:outcome()
      if outcome == "success" then sum = sum + 1
      else sum = sum + math.max(0, math.min(1, tonumber(j.progress) or 0)) end
      if not outcome then running = running + 1 end
    end
    local note = #jobs == 1 and tostring(jobs[1].status) or (running .. " running")
    return sum / #jobs, note
  end
  bar:update(state())
  local _, errs = client.jobs:wait_all(jobs, { timeout = timeout,
    on_progress = function() bar:update(state()) end })
  local fraction, note = state()
  if next(errs) == nil then fraction = 1 end
  bar:finish(fraction, note)
  return errs
end

-- The worst error of a wait: a job that failed or was canceled first.
local function worst(errs, jobs)
  local first
  for _, j in ipairs(jobs) do
    local e = errs[j.id]
    if e then
      if e.kind == "job_failed" or e.kind == "job_canceled" then return e end
      first = first or e
    end
  end
  return first
end

-- Downloads asset records into dir under one progress bar. Returns the list
-- of { asset, path }, and the first error.
local function download_assets(ui, client, assets, dir)
  local download = require "scenario.download"
  local loop = require "scenario.loop"
  local progress = require "scenario.progress"
  local errors = require "scenario.errors"
  local ok, err = download.ensure_dir(dir)
  if not ok then return {}, err end
  if #assets == 0 then return {} end
  local total, known = 0, true
  for _, a in ipairs(assets) do
    local size = type(a.properties) == "table" and tonumber(a.properties.size)
    if size then total = total + size else known = false end
  end
  local got = {}
  local bar = ui:bar(#assets == 1 and "download" or ("download " .. #assets .. " files"))
  local function draw()
    local sum = 0
    for i = 1, #assets do sum = sum + (got[i] or 0) end
    if known and total > 0 then
      bar:update(math.min(sum / total, 1), progress.bytes(sum) .. " / " .. progress.bytes(total))
    else
      bar:update(nil, progress.bytes(sum))
    end
  end
  local tasks = {}
  for i, a in ipairs(assets) do
    tasks[i] = function()
      if type(a.url) ~= "string" then
        return nil, errors.new { kind = "api", message = "asset " .. tostring(a.id) .. " has no url" }
      end
      return download.url(client, a.url, dir .. "/" .. download.file_name(a), {
        on_progress = function(n)
          got[i] = n
          draw()
        end,
      })
    end
  end
  draw()
  local results = loop.gather(tasks, 4)
  local files, first_err = {}, nil
  for i, r in ipairs(results) do
    if r[1] then
      files[#files + 1] = { asset = assets[i].id, path = r[1] }
    else
      first_err = first_err or r[2]
    end
  end
  if first_err then bar:clear() else bar:finish(1) end
  return files, first_err
end

-- Downloads the outputs of succeeded jobs.
local function download_outputs(ui, client, jobs, dir)
  local all = {}
  for _, j in ipairs(jobs) do
    local assets, err = j:assets()
    if not assets then return {}, err end
    for _, a in ipairs(assets) do all[#all + 1] = a end
  end
  return download_assets(ui, client, all, dir)
end

local function files_doc(files)
  local json = require "scenario.json"
  return json.array(files)
end

local function ids_of(list)
  local ids = {}
  for i, item in ipairs(list) do ids[i] = item end
  return require("scenario.json").array(ids)
end

-- Commands -------------------------------------------------------------------

local HELP = {}
local COMMANDS = {}

-- The start every command shares: parses its words (spec as for parse) and
-- makes its ui. Returns o, ui; or nil, nil, an exit status when the words
-- were bad or --help was asked (help printed: every %s of it is progname).
local function begin(name, words, host, spec)
  local o, perr = parse(words, spec)
  local ui = new_ui(o and o.flags, host, not o and words)
  if not o then return nil, nil, ui:fail(usage_error(perr, name)) end
  if o.flags.help then
    io.stdout:write(string.format(HELP[name], progname, progname, progname))
    return nil, nil, M.EXIT.ok
  end
  return o, ui
end

HELP.help = [==[
usage: %s COMMAND [args] [--json] [--quiet]
       %s [options] [script [args]]      (a Lua 5.4 interpreter: -e, -l, -i, -v, -)

Commands:
  generate <type> key=value... [--wait] [--out DIR] [--dry-run]
                                     start a generation (txt2img, upscale, custom:<modelId>...)
  upload FILE [--kind K]             upload a file
  download ASSET_ID... [--out DIR]   download assets
  jobs get|wait|cancel ID...         look at, wait for or cancel jobs
  call OPERATION_ID key=value...     call any operation of the API
  ops [FILTER]                       list the operations with their method and path
  help                               this text

Every command takes --help, --json (one JSON document on stdout) and
--quiet (no progress bars). A first argument that is not a command name is
a script, as for lua5.4 (run a script called like a command as ./generate).
Configuration comes from SCENARIO_API_KEY, SCENARIO_API_SECRET (or
SCENARIO_API_TOKEN), SCENARIO_API_URL, SCENARIO_PROJECT_ID, SCENARIO_LOG and
SCENARIO_POLL_INTERVAL.
Exit status: 0 success, 1 API or runtime error, 2 usage or validation error,
3 a job failed or was canceled, 130 interrupted.
]==]

function COMMANDS.help(words, host)
  local o = parse(words, {}) or { flags = {} }
  local ui = new_ui(o.flags, host)
  if ui.json then
    return ui:done { commands = require("scenario.json").array(M.COMMANDS) }
  end
  io.stdout:write(string.format(HELP.help, progname, progname))
  return M.EXIT.ok
end

-- generate --------------------------------------------------------------------

HELP.generate = [==[
usage: %s generate <type> key=value... [--wait] [--out DIR] [--dry-run]
                   [--timeout SECONDS] [--send-unknown] [--json] [--quiet]

Starts a generation and prints its job. <type> is a generate operation
(txt2img, img2img, upscale, remove-background... listed below) or
custom:<modelId>. Fields are typed by the API document: numbers, booleans
(true/false), arrays as a,b,c or JSON, objects as JSON; key:=JSON gives any
JSON value. A field the document does not list is refused unless
--send-unknown is given (free-form bodies such as custom models take any).
  --wait         wait for the job (a progress bar on a terminal)
  --out DIR      wait, then download the outputs into DIR
  --dry-run      print the cost in creative units; nothing is generated
  --timeout S    give up waiting after S seconds (default 600)
'%s generate <type> --help' lists the fields of a type.
]==]

local function generate_ops()
  local operations = require "scenario.operations"
  local list = {}
  for _, op in pairs(operations) do
    if op.resource == "generate" then list[#list + 1] = op end
  end
  table.sort(list, function(a, b) return a.method_name < b.method_name end)
  return list
end

-- The operation of a generate type, and the fields it implies.
local function generate_op(kind)
  local operations = require "scenario.operations"
  local model = kind:match("^custom:(.+)$")
  if model then return operations.PostGenerateCustom, { modelId = model } end
  local wanted = kind:gsub("%-", "_")
  for _, op in ipairs(generate_ops()) do
    if op.method_name == wanted or op.id == kind then return op, {} end
  end
end

function COMMANDS.generate(words, host)
  local o, perr = parse(words, { fields = true,
    flags = { wait = true, ["dry-run"] = true, ["send-unknown"] = true },
    values = { out = true, timeout = true } })
  local ui = new_ui(o and o.flags, host, not o and words)
  if not o then return ui:fail(usage_error(perr, "generate")) end
  local kind = o.positional[1]
  if o.flags.help then
    local op = kind and generate_op(kind)
    if op then
      io.stdout:write(string.format("%s generate %s: %s %s (%s)\nfields:\n%s\n", progname, kind,
        op.method, op.path, op.id, field_lines(op)))
    else
      io.stdout:write(string.format(HELP.generate, progname, progname), "\ntypes:\n")
      for _, g in ipairs(generate_ops()) do
        if g.method_name ~= "custom" then
          io.stdout:write(string.format("  %-32s %s\n", g.method_name:gsub("_", "-"), g.path))
        end
      end
      io.stdout:write(string.format("  %-32s %s\n", "custom:<modelId>", "/generate/custom/{modelId}"))
    end
    return M.EXIT.ok
  end
  if not kind then return ui:fail(usage_error("generate needs a type, e.g. txt2img", "generate")) end
  if #o.positional > 1 then
    return ui:fail(usage_error("unexpected argument " .. o.positional[2] ..
      " (fields are written key=value)", "generate"))
  end
  local op, implied = generate_op(kind)
  if not op then
    return ui:fail(usage_error("unknown generate type " .. kind, "generate"))
  end
  local timeout = timeout_of(o)
  if not timeout then return ui:fail(usage_error("--timeout needs a number of seconds", "generate")) end
  local fields, ferr = typed_fields(op, o.fields)
  if not fields then return ui:fail(ferr) end
  for k, v in pairs(implied) do fields[k] = v end
  local client, cerr = new_client(o.flags)
  if not client then return ui:fail(cerr) end

  if o.flags["dry-run"] then
    local cost, err = client:call(op.id, fields, { dry_run = true })
    if not cost then return ui:fail(err) end
    ui:say("cost: ", number_text_of(cost.creativeUnitsCost), " creative units",
      cost.creativeUnitsDiscount and (" (discount " .. number_text_of(cost.creativeUnitsDiscount) .. ")")
      or "")
    return ui:done(cost)
  end

  local job, err = client:call(op.id, fields)
  if not job then return ui:fail(err) end
  if not is_job(job) then -- an answer without a job: show it as it is
    if not ui.json then io.stdout:write(M.pretty(job), "\n") end
    return ui:done(job)
  end
  local doc = { job = job.record, cost = job.cost }
  if not (o.flags.wait or o.values.out) then
    ui:say(job_line(job))
    return ui:done(doc)
  end
  local errs = wait_jobs(ui, client, { job }, timeout)
  doc.job = job.record
  local werr = worst(errs, { job })
  if werr then return ui:fail(werr, doc) end
  doc.assets = ids_of(job:asset_ids())
  ui:say(job_line(job))
  if o.values.out then
    local files, derr = download_outputs(ui, client, { job }, o.values.out)
    doc.files = files_doc(files)
    for _, f in ipairs(files) do ui:say(f.path) end
    if derr then return ui:fail(derr, doc) end
  else
    for _, id in ipairs(doc.assets) do ui:say("  asset ", id) end
  end
  return ui:done(doc)
end

-- upload ----------------------------------------------------------------------

HELP.upload = [==[
usage: %s upload FILE [--kind K] [--json] [--quiet]

Uploads FILE (client.uploads:file) and prints the upload record; K is the
asset kind (image, video, audio, 3d, ...).
]==]

function COMMANDS.upload(words, host)
  local o, ui, exit = begin("upload", words, host, { values = { kind = true } })
  if not o then return exit end
  local path = o.positional[1]
  if not path or #o.positional > 1 then
    return ui:fail(usage_error("upload takes one FILE", "upload"))
  end
  local client, cerr = new_client(o.flags)
  if not client then return ui:fail(cerr) end
  pcall(require, "scenario.uploads") -- the module that adds client.uploads:file
  local uploads = client.uploads
  if not (uploads and type(uploads.file) == "function") then
    return ui:fail({ kind = "unavailable", exit = M.EXIT.error,
      message = "uploads are not available in this build (client.uploads:file is missing)" })
  end
  local f = io.open(path, "rb")
  if not f then
    return ui:fail(require("scenario.errors").new { kind = "io", message = "cannot read " .. path })
  end
  f:close()
  local progress = require "scenario.progress"
  local bar = ui:bar("upload " .. path:match("[^/]*$"))
  local record, err = uploads:file(path, { kind = o.values.kind,
    on_progress = function(sent, total)
      if total and total > 0 then
        bar:update(sent / total, progress.bytes(sent) .. " / " .. progress.bytes(total))
      else
        bar:update(nil, progress.bytes(sent))
      end
    end })
  if not record then return ui:fail(err) end
  bar:finish(1)
  if type(record) == "table" then
    local id = record.id or record.uploadId
    local asset = record.assetId or (type(record.asset) == "table" and record.asset.id)
    ui:say(tostring(id), "  ", tostring(record.status or "done"), asset and ("  asset " .. asset) or "")
  end
  return ui:done { upload = record }
end

-- download --------------------------------------------------------------------

HELP.download = [==[
usage: %s download ASSET_ID... [--out DIR] [--json] [--quiet]

Downloads each asset into DIR (default: the current directory) as
<assetId>.<extension>, written to a temporary name and renamed when
complete. Prints the paths.
]==]

function COMMANDS.download(words, host)
  local o, ui, exit = begin("download", words, host, { values = { out = true } })
  if not o then return exit end
  if #o.positional == 0 then
    return ui:fail(usage_error("download needs at least one ASSET_ID", "download"))
  end
  local client, cerr = new_client(o.flags)
  if not client then return ui:fail(cerr) end
  local assets = {}
  for _, id in ipairs(o.positional) do
    local body, err = client.assets:get(id)
    if not body then return ui:fail(err) end
    assets[#assets + 1] = body.asset or body
  end
  local files, err = download_assets(ui, client, assets, o.values.out or ".")
  for _, f in ipairs(files) do ui:say(f.path) end
  if err then return ui:fail(err, { files = files_doc(files) }) end
  return ui:done { files = files_doc(files) }
end

-- jobs ------------------------------------------------------------------------

HELP.jobs = [==[
usage: %s jobs get ID...                 print the status and progress of jobs
       %s jobs wait ID... [--out DIR]    wait for jobs (then download their outputs)
       %s jobs cancel ID...              cancel jobs
       [--timeout SECONDS] [--json] [--quiet]

Exit status 3 when a job waited for failed or was canceled.
]==]

local JOB_ACTIONS = {}

function JOB_ACTIONS.get(ui, client, ids)
  local jobs = {}
  for _, id in ipairs(ids) do
    local job, err = client.jobs:get(id)
    if not job then return ui:fail(err) end
    if not is_job(job) then job = client.jobs:job(id):_update(job.job or job) end
    jobs[#jobs + 1] = job
    ui:say(job_line(job))
  end
  local records = {}
  for i, j in ipairs(jobs) do records[i] = j.record end
  return ui:done { jobs = require("scenario.json").array(records) }
end

function JOB_ACTIONS.cancel(ui, client, ids)
  local records = {}
  for _, id in ipairs(ids) do
    local job = client.jobs:job(id)
    local ok, err = job:cancel()
    if not ok then return ui:fail(err) end
    if job:outcome() == nil then
      ok, err = job:refresh()
      if not ok then return ui:fail(err) end
    end
    records[#records + 1] = job.record
    ui:say(job_line(job))
  end
  return ui:done { jobs = require("scenario.json").array(records) }
end

function JOB_ACTIONS.wait(ui, client, ids, o)
  local jobs = {}
  for _, id in ipairs(ids) do
    local job, err = client.jobs:get(id)
    if not job then return ui:fail(err) end
    if not is_job(job) then job = client.jobs:job(id):_update(job.job or job) end
    jobs[#jobs + 1] = job
  end
  local errs = wait_jobs(ui, client, jobs, timeout_of(o))
  local records = {}
  for i, j in ipairs(jobs) do
    records[i] = j.record
    ui:say(job_line(j))
  end
  local doc = { jobs = require("scenario.json").array(records) }
  local werr = worst(errs, jobs)
  if werr then
    doc.errors = {}
    for id, e in pairs(errs) do doc.errors[id] = error_doc(e) end
    return ui:fail(werr, doc)
  end
  if o.values.out then
    local files, derr = download_outputs(ui, client, jobs, o.values.out)
    doc.files = files_doc(files)
    for _, f in ipairs(files) do ui:say(f.path) end
    if derr then return ui:fail(derr, doc) end
  end
  return ui:done(doc)
end

function COMMANDS.jobs(words, host)
  local o, ui, exit = begin("jobs", words, host, { values = { out = true, timeout = true } })
  if not o then return exit end
  local action = JOB_ACTIONS[o.positional[1] or ""]
  if not action then
    return ui:fail(usage_error(o.positional[1] and ("unknown jobs action " .. o.positional[1])
      or "jobs needs an action: get, wait or cancel", "jobs"))
  end
  local ids = compat.slice(o.positional, 2, #o.positional)
  if #ids == 0 then return ui:fail(usage_error("jobs " .. o.positional[1] .. " needs a job ID", "jobs")) end
  if not timeout_of(o) then return ui:fail(usage_error("--timeout needs a number of seconds", "jobs")) end
  local client, cerr = new_client(o.flags)
  if not client then return ui:fail(cerr) end
  return action(ui, client, ids, o)
end

-- call ------------------------------------------------------------------------

HELP.call = [==[
usage: %s call OPERATION_ID key=value... [--dry-run] [--send-unknown] [--json]

Calls any operation of the API by its operationId ('%s ops' lists them) and
prints the answer as JSON. Path parameters are fields too
(call GetAssetsByAssetId assetId=asset_123). Values are typed as for
generate; body:=JSON sends a whole JSON body (an array for the operations
whose body is one).
'%s call OPERATION_ID --help' lists the fields of an operation.
]==]

local function find_op(id)
  local operations = require "scenario.operations"
  if operations[id] then return operations[id] end
  local lower = id:lower()
  for key, op in pairs(operations) do
    if key:lower() == lower then return op end
  end
end

function COMMANDS.call(words, host)
  local o, perr = parse(words, { fields = true,
    flags = { ["dry-run"] = true, ["send-unknown"] = true } })
  local ui = new_ui(o and o.flags, host, not o and words)
  if not o then return ui:fail(usage_error(perr, "call")) end
  local id = o.positional[1]
  local op = id and find_op(id)
  if o.flags.help then
    if op then
      io.stdout:write(string.format("%s call %s: %s %s (client.%s:%s)\nfields:\n%s\n", progname,
        op.id, op.method, op.path, op.resource, op.method_name, field_lines(op)))
    else
      io.stdout:write(string.format(HELP.call, progname, progname, progname))
    end
    return M.EXIT.ok
  end
  if not id then return ui:fail(usage_error("call needs an OPERATION_ID", "call")) end
  if not op then
    return ui:fail(usage_error("unknown operation " .. id .. " ('" .. progname ..
      " ops " .. id .. "' searches)", "call"))
  end
  if #o.positional > 1 then
    return ui:fail(usage_error("unexpected argument " .. o.positional[2] ..
      " (fields are written key=value)", "call"))
  end
  local fields, ferr = typed_fields(op, o.fields)
  if not fields then return ui:fail(ferr) end
  local client, cerr = new_client(o.flags)
  if not client then return ui:fail(cerr) end
  local result, err = client:call(op.id, fields, o.flags["dry-run"] and { dry_run = true } or nil)
  if not result then return ui:fail(err) end
  if is_job(result) then result = result.response or { job = result.record } end
  if not ui.json then io.stdout:write(M.pretty(result), "\n") end
  return ui:done(result)
end

-- ops -------------------------------------------------------------------------

HELP.ops = [==[
usage: %s ops [FILTER] [--json]

Lists the operations of the API: operationId, method, path and the client
method that calls it. FILTER keeps those whose id, path or method contains
it (any case).
]==]

function COMMANDS.ops(words, host)
  local o, ui, exit = begin("ops", words, host, {})
  if not o then return exit end
  if #o.positional > 1 then return ui:fail(usage_error("ops takes one FILTER", "ops")) end
  local filter = o.positional[1] and o.positional[1]:lower()
  local list = {}
  for id, op in pairs(require "scenario.operations") do
    local method = "client." .. op.resource .. ":" .. op.method_name
    if not filter or id:lower():find(filter, 1, true) or op.path:lower():find(filter, 1, true)
      or method:lower():find(filter, 1, true) then
      list[#list + 1] = { id = id, method = op.method, path = op.path,
        client_method = method, dry_run = op.dry_run, paginated = op.paginated }
    end
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  if not ui.json then
    local width = 0
    for _, e in ipairs(list) do width = math.max(width, #e.id) end
    for _, e in ipairs(list) do
      io.stdout:write(string.format("%-" .. width .. "s  %-6s  %s  %s\n", e.id, e.method, e.path,
        e.client_method))
    end
  end
  return ui:done { operations = require("scenario.json").array(list) }
end

-- Entry point ------------------------------------------------------------------

--- Runs a command: words are the runner's arguments (the command first);
-- host tells about the terminal: progname, stdout_tty, stderr_tty, columns.
-- Returns the exit status.
function M.main(words, host)
  host = host or {}
  host.columns = host.columns or 0
  progname = (host.progname or "scenario-lua"):match("[^/]*$")
  local name = words[1] == "--help" and "help" or words[1]
  local command = COMMANDS[name or ""]
  if not command then
    io.stderr:write(progname, ": unknown command ", tostring(name), "\n")
    return M.EXIT.usage
  end
  return command(compat.slice(words, 2, #words), host)
end

return M
