--- The names of the runner's commands, in the order `help` shows them, and
-- their exit statuses. Each command
-- has its file beside this one (runner/generate.lua, ...) returning
-- { help = text, run = function(words, host) --> exit status }.
-- csrc/main.c keeps no list of its own: it asks scenario.runner.is_command.
local M = {}

M.NAMES = { "generate", "upload", "download", "jobs", "call", "ops", "help" }

-- the exit statuses of a command (130 after Ctrl-C is set by csrc/main.c)
M.EXIT = { ok = 0, error = 1, usage = 2, job = 3, interrupted = 130 }

local IS_NAME = {}
for _, name in ipairs(M.NAMES) do IS_NAME[name] = true end

--- Whether word, the runner's first argument, names a command ("--help"
-- is `help`).
function M.is_command(word)
  return word == "--help" or IS_NAME[word] == true
end

return M
