--- Where the runner's words go: human lines on stdout, errors on stderr,
-- progress bars on stderr when it is a terminal, and with --json one JSON
-- document on stdout and nothing else there (--jsonl: one per line). Also
-- the exit statuses and the error documents of --json.
-- Every byte written goes through the ui's cleaner first (runner.redact):
-- the client's redactor, then the generic Authorization pass. Nothing of
-- the runner writes to io.stdout or io.stderr but the Ui methods below.
local scenario = require "scenario"
local json = require "scenario.json"
local errors = require "scenario.errors"
local format = require "scenario.format"
local progress = require "scenario.progress"
local commands = require "scenario.runner.commands"
local redact = require "scenario.runner.redact"

local M = {}

M.EXIT = commands.EXIT

-- the runner's name in messages: the basename of argv[0] (scenario.runner.main)
M.progname = "scenario-lua"
-- the running command's ui, for scenario.runner.interrupted
M.current = nil

M.json_array = json.array

local function is_list(t)
  if json.is_array(t) then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

local pretty

local function pretty_list(v, indent, out)
  if #v == 0 then
    out[#out + 1] = "[]"
    return out
  end
  local inner = indent .. "  "
  out[#out + 1] = "[\n"
  for i = 1, #v do
    out[#out + 1] = inner
    pretty(v[i], inner, out)
    out[#out + 1] = i < #v and ",\n" or "\n"
  end
  out[#out + 1] = indent .. "]"
  return out
end

local function pretty_object(v, indent, out)
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  if #keys == 0 then
    out[#out + 1] = "{}"
    return out
  end
  local inner = indent .. "  "
  out[#out + 1] = "{\n"
  for i, k in ipairs(keys) do
    out[#out + 1] = inner .. format.quote(k) .. ": "
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    pretty(val, inner, out)
    out[#out + 1] = i < #keys and ",\n" or "\n"
  end
  out[#out + 1] = indent .. "}"
  return out
end

-- JSON for people: indented, keys sorted.
pretty = function(v, indent, out)
  indent = indent or ""
  out = out or {}
  if type(v) ~= "table" or v == json.null then
    out[#out + 1] = json.encode(v) or format.quote(tostring(v))
    return out
  end
  if is_list(v) then return pretty_list(v, indent, out) end
  return pretty_object(v, indent, out)
end

--- v as indented JSON with sorted keys.
function M.pretty(v)
  return table.concat(pretty(v))
end

-- Errors ---------------------------------------------------------------------

--- A usage error of the runner itself (not of the SDK).
function M.usage_error(message, command)
  return { kind = "usage", message = message, command = command, exit = M.EXIT.usage }
end

--- A Lua error raised by the SDK (scenario.new raises on bad configuration)
-- as a scenario.Error.
function M.as_error(e)
  if errors.is(e) then return e end
  return errors.new { kind = "validation", message = tostring(e) }
end

local function exit_status(err)
  if err.exit then return err.exit end
  if err.kind == "validation" then return M.EXIT.usage end
  if err.kind == "job_failed" or err.kind == "job_canceled" then return M.EXIT.job end
  return M.EXIT.error
end

local ERROR_FIELDS = { "kind", "message", "status", "request_id", "operation", "retryable",
  "problems", "body", "attempts" }

--- The JSON document of an error (--json).
function M.error_doc(err)
  local doc = {}
  for _, k in ipairs(ERROR_FIELDS) do
    if type(err[k]) ~= "function" then doc[k] = err[k] end
  end
  if type(err.job) == "table" then doc.job_id = err.job.id end
  if doc.problems then doc.problems = json.array(doc.problems) end
  return doc
end

--- An error as one line of text (its __tostring, without "scenario: ").
local function error_text(err)
  if getmetatable(err) and getmetatable(err).__tostring then
    return (tostring(err):gsub("^scenario: ", ""))
  end
  return tostring(err.message)
end
M.error_text = error_text

--- A job as one line: id, status, percent and type.
function M.job_line(job)
  return string.format("%s  %s  %d%%%s", tostring(job.id), tostring(job.status),
    math.floor((job.progress or 0) * 100 + 0.5), job.type and ("  " .. job.type) or "")
end

-- The ui of one command: where its output goes. -------------------------------

local Ui = {}
Ui.__index = Ui

--- The ui of a command from its flags (--json, --jsonl, --quiet); host as
-- for scenario.runner.main. words: given when the parse failed, so that
-- --json still decides the output.
function M.new_ui(flags, host, words)
  if words then
    flags = {}
    for _, w in ipairs(words) do
      if w == "--" then break end
      if w == "--json" or w == "--jsonl" then flags[w:sub(3)] = true end
    end
  end
  local ui = setmetatable({
    json = (flags.json or flags.jsonl) and true or false,
    jsonl = flags.jsonl and true or false,
    quiet = flags.quiet and true or false,
    host = host or {},
  }, Ui)
  M.current = ui
  -- an error raised in a coroutine the SDK spawned is written by
  -- scenario.on_error: through this ui too
  scenario.on_error = function(err, traceback)
    ui:err(M.progname, ": error in a spawned coroutine: ", tostring(err), "\n",
      traceback or "", "\n")
  end
  return ui
end

-- The redactor of the ui: its client's once it has one, else one made
-- from the environment (the first time it is needed).
function Ui:redactor()
  if not self.redact then self.redact = redact.from_env() end
  return self.redact
end

--- From now on, the redactor of the command's client (client:redact).
function Ui:use_client(client)
  self.redact = function(s) return client:redact(s) end
end

--- s cleaned: the redactor, then the generic Authorization pass.
function Ui:clean(s)
  return redact.generic(self:redactor()(tostring(s)))
end

local function joined(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  return table.concat(parts)
end

--- Writes its arguments, cleaned, on stdout.
function Ui:out(...)
  io.stdout:write(self:clean(joined(...)))
end

--- Writes its arguments, cleaned, on stderr.
function Ui:err(...)
  io.stderr:write(self:clean(joined(...)))
  io.stderr:flush()
end

-- A stream for progress bars: stderr, cleaned.
function Ui:stderr_stream()
  local ui = self
  return {
    write = function(_, ...) ui:err(...) end,
    flush = function() io.stderr:flush() end,
  }
end

-- doc with every string cleaned (and every number that shows a secret
-- made a cleaned string), as JSON text. The text is then only redacted
-- (the client's redactor, not the generic pass, which could take a number
-- after an "authorization" key for a value and break the JSON).
function Ui:json_text(doc)
  local ui = self
  local cleaned = redact.tree(doc, function(s) return ui:clean(s) end)
  local text, err = json.encode(cleaned)
  if not text then
    text = json.encode { error = { kind = "io", message = "cannot encode the result: " .. err } }
  end
  return self:redactor()(text)
end

--- Writes doc as one line of JSON on stdout.
function Ui:write_json(doc)
  io.stdout:write(self:json_text(doc), "\n")
  io.stdout:flush()
end

--- Writes v as indented JSON with sorted keys on stdout (cleaned as
-- write_json cleans).
function Ui:write_pretty(v)
  local ui = self
  local text = M.pretty(redact.tree(v, function(s) return ui:clean(s) end))
  io.stdout:write(self:redactor()(text), "\n")
end

--- A progress bar, drawn only when stderr is a terminal and not --quiet.
function Ui:bar(label)
  -- cleaned before the bar cuts it to the terminal's width, where a cut
  -- secret would no longer be found
  local bar = progress.new { enabled = self.host.stderr_tty and not self.quiet,
    label = self:clean(label), columns = self.host.columns, stream = self:stderr_stream() }
  self.active_bar = bar
  return bar
end

--- A line of human output (nothing with --json).
function Ui:say(...)
  if not self.json then self:out(joined(...), "\n") end
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
  self:err(M.progname, ": ", text, "\n")
  if err.kind == "usage" then
    self:err("see '", M.progname, " ", err.command and (err.command .. " ") or "", "--help'\n")
  end
  if self.json then
    local doc = { error = M.error_doc(err) }
    for k, v in pairs(extra or {}) do doc[k] = v end
    self:write_json(doc)
  end
  return exit_status(err)
end

--- Ends a successful command: the JSON document with --json.
function Ui:done(doc)
  if self.json then self:write_json(doc) end
  return M.EXIT.ok
end

--- What a command that raised is reported as: a scenario.Error as any
-- failure; anything else as a bug, with its traceback (cleaned), exit 1.
-- e: a scenario.Error, or { message, traceback } (M.on_crash).
function M.crashed(e)
  local ui = M.current or M.new_ui({}, {})
  if errors.is(e) then return ui:fail(e) end
  if ui.active_bar then ui.active_bar:clear() end
  ui:err(M.progname, ": ", e.traceback, "\n")
  if ui.json then
    ui:write_json { error = { kind = "internal", message = e.message } }
  end
  return M.EXIT.error
end

--- The message handler of a command's run (scenario.runner.main): Ctrl-C's
-- error (main.c's "interrupted!") goes on unchanged, a scenario.Error as
-- it is, anything else as { message, traceback }.
function M.on_crash(e)
  if type(e) == "string" and e:find("interrupted!$") then return e end
  if errors.is(e) then return e end
  local message = tostring(e)
  return { message = message, traceback = debug.traceback(message, 2) }
end

return M
