/*
 * scenario-lua: the Lua 5.4 interpreter with the SDK inside.
 *
 *   scenario-lua [options] [script [args]]   what lua5.4 does, with every
 *                                            scenario.* module preloaded
 *   scenario-lua COMMAND [args]              a command for shell users
 *                                            (lua/scenario/runner/)
 *
 * A first argument that names a command (scenario.runner.is_command says;
 * no list is kept here) runs that command; anything else is read the way
 * lua5.4 reads its arguments, so a script whose file is called like a
 * command is run as `./generate` or `scenario-lua -- generate`.
 *
 * The interpreter follows lua.c: the `arg` table, -e, -l, -i, -v, -E, -W,
 * `-` and `--`, LUA_INIT_5_4 / LUA_INIT, a message handler that honours
 * __tostring and appends a traceback, exit status 1 on an error.  Ctrl-C is
 * turned into a Lua error at the next Lua instruction (transfers in the C
 * loop notice it within a second); the run then stops, scenario.runner
 * prints the ids of jobs still running (the library reports them to
 * scenario.track) and removes partial downloads, and the status is 130.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "scenario.h"

#ifdef SC_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT "> "
#define PROMPT2 ">> "
#define LINE_MAX_INPUT 512
#define EXIT_INTERRUPTED 130
/* after the first "interrupted!" error, raise it again every this many
   instructions, so that a pcall that swallowed it cannot keep the run going */
#define INTERRUPT_REPEAT 1000

static const char *progname = "scenario-lua";

/* What a signal handler may touch: the state to stop, and whether it did. */
static lua_State *signal_state = NULL;
static volatile sig_atomic_t interrupted = 0;

/* Interrupts ------------------------------------------------------------ */

static void set_signal(int sig, void (*handler)(int)) {
  struct sigaction sa;
  sa.sa_handler = handler;
  sa.sa_flags = 0; /* no SA_RESTART: a blocking poll returns on the signal */
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, stop_hook, LUA_MASKCOUNT, INTERRUPT_REPEAT);
  luaL_error(L, "interrupted!");
}

/* A signal handler cannot touch a Lua state: it only sets a hook, which
   raises the error from inside the interpreter. */
static void on_sigint(int sig) {
  set_signal(sig, SIG_DFL); /* a second Ctrl-C kills the process */
  interrupted = 1;
  lua_sethook(signal_state, stop_hook,
              LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* Messages -------------------------------------------------------------- */

static void message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

/* Prints the error on top of the stack, unless the run was interrupted
   (that is reported once, at the end).  Returns status. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    if (!interrupted) message(progname, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return status;
}

/* The message handler of every chunk: the error as text (a table's
   __tostring when it has one) and a traceback. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls the function below narg arguments with the message handler, Ctrl-C
   turned into an error while it runs. */
static int docall(lua_State *L, int narg, int nres) {
  int status;
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  signal_state = L;
  set_signal(SIGINT, on_sigint);
  status = lua_pcall(L, narg, nres, base);
  set_signal(SIGINT, SIG_DFL);
  lua_sethook(L, NULL, 0, 0); /* a pending interrupt ends with the chunk */
  lua_remove(L, base);
  if (status == LUA_OK && interrupted) { /* the signal came as it returned */
    lua_settop(L, base - 1);
    lua_pushliteral(L, "interrupted!");
    status = LUA_ERRRUN;
  }
  return status;
}

static void print_version(void) {
  printf("%s\nscenario-lua %s\n", LUA_COPYRIGHT, SCENARIO_VERSION);
  fflush(stdout);
}

/* The runner's command names, space-separated, pushed (the COMMANDS of
   scenario.runner); "(see help)" when they cannot be had. */
static const char *command_names(lua_State *L);

static void print_usage(lua_State *L, FILE *out) {
  fprintf(out,
          "usage: %s [options] [script [args]]\n"
          "       %s COMMAND [args]   (commands: %s)\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -E        ignore environment variables\n"
          "  -W        turn warnings on\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n"
          "'%s help' describes the commands.\n",
          progname, progname, command_names(L), progname);
}

static void bad_option(lua_State *L, const char *option) {
  fprintf(stderr, "%s: ", progname);
  if (option[1] == 'e' || option[1] == 'l')
    fprintf(stderr, "'%s' needs argument\n", option);
  else
    fprintf(stderr, "unrecognized option '%s'\n", option);
  print_usage(L, stderr);
}

/* Chunks ---------------------------------------------------------------- */

/* arg: the script at 0, its arguments at 1.., the interpreter and its
   options at negative indices (the interpreter's name at 0 when there is
   no script). */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int i;
  if (script == argc) script = 0;
  lua_createtable(L, argc - (script + 1), script + 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dofile(lua_State *L, const char *name) {
  return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* "-l g=mod" runs g = require "mod"; "-l mod" runs mod = require "mod". */
static int dolibrary(lua_State *L, const char *spec) {
  int status;
  const char *eq = strchr(spec, '=');
  const char *modname = eq ? eq + 1 : spec;
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  status = docall(L, 1, 1);
  if (status == LUA_OK) {
    lua_pushglobaltable(L);
    lua_pushlstring(L, spec, eq ? (size_t)(eq - spec) : strlen(spec));
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    lua_pop(L, 2);
  }
  return report(L, status);
}

/* Pushes arg[1..#arg], the script's `...`. */
static int push_script_args(lua_State *L) {
  int i, n;
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  int status;
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) status = docall(L, push_script_args(L), LUA_MULTRET);
  return report(L, status);
}

/* Options --------------------------------------------------------------- */

#define HAS_ERROR 1
#define HAS_I 2
#define HAS_V 4
#define HAS_E 8
#define HAS_NOENV 16

/* Reads the options up to the script; *first is the script's index (argc
   when there is none) or the bad option's. */
static int collect_args(char **argv, int *first) {
  int args = 0, i;
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args;
    switch (argv[i][1]) {
    case '-':
      if (argv[i][2] != '\0') return HAS_ERROR;
      *first = i + 1;
      return args;
    case '\0':
      return args; /* "-": the script is stdin */
    case 'E':
      if (argv[i][2] != '\0') return HAS_ERROR;
      args |= HAS_NOENV;
      break;
    case 'W':
      if (argv[i][2] != '\0') return HAS_ERROR;
      break;
    case 'i':
      args |= HAS_I; /* -i implies -v */
      /* fall through */
    case 'v':
      if (argv[i][2] != '\0') return HAS_ERROR;
      args |= HAS_V;
      break;
    case 'e':
      args |= HAS_E;
      /* fall through */
    case 'l':
      if (argv[i][2] == '\0') {
        i++;
        if (argv[i] == NULL || argv[i][0] == '-') return HAS_ERROR;
      }
      break;
    default:
      return HAS_ERROR;
    }
  }
  *first = i;
  return args;
}

/* Runs -e, -l and -W in their order; 0 when one of them failed. */
static int run_args(lua_State *L, char **argv, int n) {
  int i;
  for (i = 1; i < n; i++) {
    int option = argv[i][1];
    if (option == 'e' || option == 'l') {
      const char *extra = argv[i] + 2;
      int status;
      if (*extra == '\0') extra = argv[++i];
      status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
      if (status != LUA_OK) return 0;
    } else if (option == 'W') {
      lua_warning(L, "@on", 0);
    }
  }
  return 1;
}

static int handle_luainit(lua_State *L) {
  const char *name = "=LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR;
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dofile(L, init + 1);
  return dostring(L, init, name);
}

/* The interactive loop -------------------------------------------------- */

#ifdef SC_USE_READLINE
static void init_line_editing(void) { rl_readline_name = "scenario-lua"; }
static int read_line(char **line, const char *prompt) { return (*line = readline(prompt)) != NULL; }
static void keep_line(const char *line) { add_history(line); }
static void free_line(char *line) { free(line); }
#else
static char input[LINE_MAX_INPUT];
static void init_line_editing(void) {}
static int read_line(char **line, const char *prompt) {
  fputs(prompt, stdout);
  fflush(stdout);
  *line = input;
  return fgets(input, LINE_MAX_INPUT, stdin) != NULL;
}
static void keep_line(const char *line) { (void)line; }
static void free_line(char *line) { (void)line; }
#endif

/* _PROMPT / _PROMPT2 when set, left on the stack to keep them alive. */
static const char *get_prompt(lua_State *L, int firstline) {
  if (lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2") == LUA_TNIL)
    return firstline ? PROMPT : PROMPT2;
  {
    const char *p = luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    return p;
  }
}

/* A syntax error that ends at <eof> means the statement goes on. */
static int incomplete(lua_State *L, int status) {
  static const char mark[] = "<eof>";
  if (status == LUA_ERRSYNTAX) {
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    if (len >= sizeof mark - 1 && strcmp(msg + len - (sizeof mark - 1), mark) == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

/* Shows the prompt and pushes one line; 0 at the end of the input. */
static int push_line(lua_State *L, int firstline) {
  char *line;
  size_t len;
  const char *prompt = get_prompt(L, firstline);
  if (!read_line(&line, prompt)) return 0;
  lua_pop(L, 1); /* the prompt */
  len = strlen(line);
  if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
  if (firstline && line[0] == '=')
    lua_pushfstring(L, "return %s", line + 1);
  else
    lua_pushlstring(L, line, len);
  free_line(line);
  return 1;
}

/* Compiles the line as `return <line>;`, so that expressions are printed. */
static int add_return(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);
    if (line[0] != '\0') keep_line(line);
  } else {
    lua_pop(L, 2);
  }
  return status;
}

static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    if (!incomplete(L, status) || !push_line(L, 0)) {
      keep_line(line);
      return status;
    }
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

/* Reads and compiles one statement; -1 at the end of the input. */
static int load_line(lua_State *L) {
  int status;
  lua_settop(L, 0);
  if (!push_line(L, 1)) return -1;
  if ((status = add_return(L)) != LUA_OK) status = multiline(L);
  lua_remove(L, 1);
  return status;
}

static void print_results(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      message(progname, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
  }
}

static void repl(lua_State *L) {
  int status;
  const char *saved = progname;
  progname = NULL;
  init_line_editing();
  while ((status = load_line(L)) != -1) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) {
      print_results(L);
    } else {
      interrupted = 0; /* Ctrl-C stops the statement, not the session */
      report(L, status);
    }
  }
  lua_settop(L, 0);
  fputs("\n", stdout);
  fflush(stdout);
  progname = saved;
}

/* The SDK and its runner ------------------------------------------------- */

/* Pushes require("scenario.runner")[name], in protected mode without the
   message handler or Ctrl-C (so also after an interrupt). Returns the
   status; on an error the message is pushed instead. */
static int push_runner_field(lua_State *L, const char *name) {
  int status;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "scenario.runner");
  status = lua_pcall(L, 1, 1, 0);
  if (status != LUA_OK) return status;
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  return LUA_OK;
}

static const char *command_names(lua_State *L) {
  if (push_runner_field(L, "COMMANDS") != LUA_OK || !lua_istable(L, -1)) return "(see help)";
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "concat");
  lua_remove(L, -2);
  lua_insert(L, -2);
  lua_pushliteral(L, " ");
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) return "(see help)";
  return lua_tostring(L, -1);
}

/* Whether word names a command: scenario.runner.is_command(word). An error
   (a broken build) ends the run. */
static int is_command(lua_State *L, const char *word) {
  int yes;
  if (push_runner_field(L, "is_command") != LUA_OK) return lua_error(L);
  lua_pushstring(L, word);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return lua_error(L);
  yes = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return yes;
}

/* After an interrupt: scenario.runner says so, names the jobs still running
   and removes partial downloads (it reads what the library reported to
   scenario.track). */
static void report_interrupt(lua_State *L) {
  int status = push_runner_field(L, "interrupted");
  if (status == LUA_OK) status = lua_pcall(L, 0, 0, 0);
  if (status != LUA_OK) {
    message(progname, "interrupted");
    message(progname, lua_tostring(L, -1));
  }
  lua_settop(L, 0);
}

/* What scenario.runner.main needs to know about the terminal. */
static void push_host(lua_State *L) {
  struct winsize ws;
  int columns = 0;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0) columns = ws.ws_col;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, progname);
  lua_setfield(L, -2, "progname");
  lua_pushboolean(L, isatty(STDOUT_FILENO));
  lua_setfield(L, -2, "stdout_tty");
  lua_pushboolean(L, isatty(STDERR_FILENO));
  lua_setfield(L, -2, "stderr_tty");
  lua_pushinteger(L, columns);
  lua_setfield(L, -2, "columns");
}

/* Runs require("scenario.runner").main(words, host); returns its exit status. */
static int run_command(lua_State *L, char **argv, int argc) {
  int i, status;
  status = push_runner_field(L, "main");
  if (status != LUA_OK) return report(L, status), EXIT_FAILURE;
  lua_createtable(L, argc - 1, 0);
  for (i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  push_host(L);
  status = docall(L, 2, 1);
  if (status != LUA_OK) return report(L, status), EXIT_FAILURE;
  return (int)luaL_optinteger(L, -1, 0);
}

/* Main ------------------------------------------------------------------ */

/* Everything, in protected mode; pushes the exit status. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script, args;
  luaL_checkversion(L);
  if (argv[0] && argv[0][0]) progname = argv[0];
  /* read first for -E, which must come before luaL_openlibs; a command
     word stops the reading at once (no option seen) */
  args = collect_args(argv, &script);
  if (args & HAS_NOENV) {
    lua_pushboolean(L, 1); /* luaL_openlibs then ignores LUA_PATH and friends */
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  luaL_openlibs(L);
  if (scenario_openlibs(L) != 0) return lua_error(L);
  if (argc > 1 && is_command(L, argv[1])) {
    create_arg_table(L, argv, argc, 1);
    lua_pushinteger(L, run_command(L, argv, argc));
    return 1;
  }
  if (args == HAS_ERROR) {
    bad_option(L, argv[script]);
    lua_pushinteger(L, EXIT_FAILURE);
    return 1;
  }
  if (args & HAS_V) print_version();
  create_arg_table(L, argv, argc, script);
  lua_gc(L, LUA_GCGEN, 0, 0);
  lua_pushinteger(L, EXIT_FAILURE);
  if (!(args & HAS_NOENV) && handle_luainit(L) != LUA_OK) return 1;
  if (!run_args(L, argv, script)) return 1;
  if (script < argc && handle_script(L, argv + script) != LUA_OK) return 1;
  if (args & HAS_I) {
    repl(L);
  } else if (script == argc && !(args & (HAS_E | HAS_V))) {
    if (isatty(STDIN_FILENO)) {
      print_version();
      repl(L);
    } else if (dofile(L, NULL) != LUA_OK) {
      return 1;
    }
  }
  lua_pushinteger(L, EXIT_SUCCESS);
  return 1;
}

int main(int argc, char **argv) {
  int status, code;
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    message(argv[0], "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  code = status == LUA_OK ? (int)lua_tointeger(L, -1) : EXIT_FAILURE;
  if (status != LUA_OK) message(progname, lua_tostring(L, -1));
  lua_settop(L, 0);
  if (interrupted) {
    report_interrupt(L);
    code = EXIT_INTERRUPTED;
  }
  lua_close(L); /* stops what is still in flight: every transfer's __gc */
  return code;
}
