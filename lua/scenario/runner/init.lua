--- scenario.runner: the commands of the scenario-lua runner, for shell users.
-- csrc/main.c asks is_command(word) about its first argument, calls
-- main(words, host) when it names a command, and interrupted() after Ctrl-C
-- stopped a run (a command or any script):
--
--   generate <type> key=value... [--wait] [--out DIR] [--dry-run]
--   upload FILE [--kind K]
--   download ASSET_ID... [--out DIR]
--   jobs get|wait|cancel ID... [--out DIR]
--   call OPERATION_ID key=value... [--dry-run] [--all] [--jsonl]
--   ops [FILTER]
--   help
--
-- Every command takes --json (one JSON document on stdout, nothing else
-- there), --quiet (no progress bars) and --help. Exit status: 0 success,
-- 1 API or runtime error, 2 usage or validation error, 3 a job failed or
-- was canceled (130 after Ctrl-C, set by main.c).
--
-- The rooms: commands.lua names the commands, one file each beside it;
-- args.lua reads words, fields.lua types key=value by the API document,
-- output.lua writes (progress bars, --json, errors), sdk.lua waits for jobs
-- and downloads.
-- main.c asks is_command before every script, so this module requires only
-- what is light (no JSON, no C core, no client): the output and the commands,
-- which bring the whole SDK, load late, when a command runs or after Ctrl-C.
local compat = require "scenario.compat"
local track = require "scenario.track"
local commands = require "scenario.runner.commands"

local M = {}

M.COMMANDS = commands.NAMES
M.EXIT = commands.EXIT
M.is_command = commands.is_command

--- Runs a command: words are the runner's arguments (the command first);
-- host tells about the terminal: progname, stdout_tty, stderr_tty, columns.
-- Returns the exit status. An error the command raises is reported here,
-- through the command's ui (so cleaned of secrets: runner.output), not by
-- main.c; Ctrl-C's error goes on to main.c.
function M.main(words, host)
  host = host or {}
  host.columns = host.columns or 0
  local progname = (host.progname or "scenario-lua"):match("[^/]*$")
  local name = words[1] == "--help" and "help" or words[1]
  local output = require "scenario.runner.output" -- loads late: brings the C core, not for scripts
  output.progname = progname
  if not commands.is_command(name) then
    output.new_ui({}, host):err(progname, ": unknown command ", tostring(name), "\n")
    return M.EXIT.usage
  end
  local command = require("scenario.runner." .. name) -- loads late: brings the SDK, not for scripts
  local rest = compat.slice(words, 2, #words)
  local ok, result = xpcall(function() return command.run(rest, host) end, output.on_crash)
  if ok then return result end
  if type(result) ~= "table" then error(result, 0) end -- Ctrl-C: main.c reports it
  return output.crashed(result)
end

--- Called by main.c after Ctrl-C stopped the run: says so, names the jobs
-- still running (scenario.track), removes the temporary files of unfinished
-- downloads. The transfers themselves stop when the Lua state closes.
function M.interrupted()
  local output = require "scenario.runner.output" -- loads late: only after Ctrl-C
  local ui = output.current or output.new_ui({}, {})
  local progname = output.progname
  if ui.active_bar then ui.active_bar:clear() end
  ui:err(progname, ": interrupted\n")
  local ids = {}
  for _, job in ipairs(track.running_jobs()) do
    ids[#ids + 1] = job.id
    ui:err(progname, ": job ", job.id, " is still running; resume with: ",
      progname, " jobs wait ", job.id, "\n")
  end
  for _, tmp in ipairs(track.partial_files()) do
    os.remove(tmp)
    track.partial_closed(tmp)
  end
  if ui.json then
    ui:write_json { error = { kind = "interrupted", message = "interrupted" },
      running_jobs = output.json_array(ids) }
  end
end

return M
