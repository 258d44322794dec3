--- scenario-lua help: the commands, the configuration and the exit statuses.
local json = require "scenario.json"
local args = require "scenario.runner.args"
local commands = require "scenario.runner.commands"
local output = require "scenario.runner.output"

local M = {}

M.help = [==[
usage: %s COMMAND [args] [--json] [--quiet]
       %s [options] [script [args]]      (a Lua 5.4 interpreter: -e, -l, -i, -v, -)

Commands:
  generate <type> key=value... [--wait] [--out DIR] [--dry-run]
                                     start a generation (txt2img, upscale, custom:<modelId>...)
  upload FILE [--kind K]             upload a file
  download ASSET_ID... [--out DIR]   download assets
  jobs get|wait|cancel ID...         look at, wait for or cancel jobs
  call OPERATION_ID key=value... [--all] [--jsonl]
                                     call any operation of the API (--all: every page)
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

function M.run(words, host)
  local o = args.parse(words, {}) or { flags = {} }
  local ui = output.new_ui(o.flags, host)
  if ui.json then
    return ui:done { commands = json.array(commands.NAMES) }
  end
  ui:out(string.format(M.help, output.progname, output.progname))
  return output.EXIT.ok
end

return M
