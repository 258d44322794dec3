/*
 * core.json_decode(text, array_mt): the fast path of scenario.json.decode
 * (lua/scenario/json.lua), which keeps lua-cjson for everything else.
 *
 * It decodes what the API sends into the values lua-cjson gives, with the
 * two rules json.lua adds on top: an empty array is a table with array_mt,
 * and an integer of 16 digits or more that a double would round is its
 * decimal text.  Numbers are doubles from strtod (as lua-cjson's are), null
 * is lua-cjson's null (a NULL light userdata).
 *
 * Why: a job record decoded by lua-cjson costs about 72k instructions, the
 * largest part of a request (README, B1).  lua-cjson grows every table as
 * members come (an object of 12 keys is rehashed 5 times) and copies every
 * string into a buffer first.  Here a first pass counts the members of
 * every array and object, so that the second makes each table at its size,
 * and a string without escapes is pushed straight from the text.
 *
 * It never decides what is JSON: on anything it does not take as it is
 * (an error, a number strtod does not read whole, nesting past 200 levels,
 * a \u escape of half a surrogate pair, a control character in a string) it
 * returns nothing, and json.lua decodes the text the careful way, with
 * lua-cjson's result or message.  So it may refuse more than lua-cjson, but
 * never accept what lua-cjson refuses nor decode anything differently
 * (spec/json_fast_spec.lua compares the two on generated texts).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_internal.h"

#define MAX_DEPTH 200
#define SMALL_COUNTS 64

typedef struct dec {
  lua_State *L;
  const char *p, *end;
  const int *counts; /* members of each array and object, in text order */
  int ncounts;       /* containers counted */
  int next;          /* the next container's index in counts */
  int mt;            /* stack index of array_mt, 0 for none */
  int depth;
} dec;

/* Byte classes.  The text is a Lua string, so s[n] is a NUL byte: every
   scan below stops on NUL (a class of its own) without a bound check, and
   tells the end from a NUL inside the text by its position. */
enum { C_PLAIN = 0, C_END = 1, C_QUOTE, C_BACKSLASH, C_COMMA, C_OPEN, C_CLOSE, C_CONTROL };

static unsigned char structure[256]; /* pass 1: what it stops on */
static unsigned char in_string[256]; /* inside a string: what ends a run */

/* Called once by luaopen_scenario_core (core.c). */
void sc_json_init(void) {
  int c;
  for (c = 1; c < 0x20; c++) in_string[c] = C_CONTROL;
  structure[0] = in_string[0] = C_END;
  structure['"'] = in_string['"'] = C_QUOTE;
  in_string['\\'] = C_BACKSLASH;
  structure[','] = C_COMMA;
  structure['{'] = structure['['] = C_OPEN;
  structure['}'] = structure[']'] = C_CLOSE;
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* ---- pass 1: the members of every container ---- */

/* After the opening quote of a string: after its closing one, or NULL.  A
   quote closes the string unless an odd run of backslashes is before it. */
static const char *skip_string(const char *s, const char *end) {
  const char *from = s;
  for (;;) {
    const char *q = memchr(s, '"', (size_t)(end - s)), *b;
    if (q == NULL) return NULL;
    for (b = q; b > from && b[-1] == '\\'; b--) {}
    if ((q - b) % 2 == 0) return q + 1;
    s = q + 1;
  }
}

/* Counts into counts[] (cap entries); returns the number of containers, -1
   for a text it will not take, -2 when cap is too small.  A container has
   its commas + 1 members, or none when only whitespace is inside. */
static int count_members(const char *s, const char *end, int *counts, int cap) {
  const char *text = s;
  int open[MAX_DEPTH + 1], top = -1, n = 0;
  for (;;) {
    const char *t;
    while (structure[(unsigned char)*s] == C_PLAIN) s++;
    switch (structure[(unsigned char)*s]) {
      case C_END:
        if (s >= end) return top == -1 ? n : -1;
        s++;
        break;
      case C_QUOTE:
        s = skip_string(s + 1, end);
        if (s == NULL) return -1;
        break;
      case C_COMMA: {
        /* only after a value: ",," "[," "{," ":," are not JSON (and would
           make a table sized for members that are not there) */
        const char *b = s - 1;
        while (b > text && is_ws(*b)) b--;
        if (top < 0 || b < text || *b == ',' || *b == '[' || *b == '{' || *b == ':') return -1;
        counts[open[top]]++;
        s++;
        break;
      }
      case C_OPEN:
        if (top == MAX_DEPTH - 1) return -1;
        if (n == cap) return -2;
        for (t = s + 1; is_ws(*t); t++) {}
        counts[n] = (*t == '}' || *t == ']') ? 0 : 1;
        open[++top] = n++;
        s++;
        break;
      default: /* C_CLOSE */
        if (top < 0) return -1;
        top--;
        s++;
    }
  }
}

/* ---- pass 2: the values ---- */

static int value(dec *d);

static void skip_ws(dec *d) {
  while (d->p < d->end && is_ws(*d->p)) d->p++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  int i;
  for (i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* One \u escape (p after the "\u"): its UTF-8 into b; advances *pp. */
static int unicode_escape(const char **pp, const char *end, luaL_Buffer *b) {
  const char *p = *pp;
  unsigned cp, lo;
  char u[4];
  if (end - p < 4 || hex4(p, &cp) != 0) return -1;
  p += 4;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return -1;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0) return -1;
    if (lo < 0xDC00 || lo > 0xDFFF) return -1;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    p += 6;
  }
  if (cp < 0x80) {
    luaL_addchar(b, (char)cp);
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | (cp >> 6));
    u[1] = (char)(0x80 | (cp & 0x3F));
    luaL_addlstring(b, u, 2);
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12));
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    luaL_addlstring(b, u, 3);
  } else {
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    luaL_addlstring(b, u, 4);
  }
  *pp = p;
  return 0;
}

/* A string with escapes, from its first backslash (start: after the quote). */
static int escaped_string(dec *d, const char *start, const char *p) {
  luaL_Buffer b;
  /* Lua 5.1 and LuaJIT keep a buffer's pieces on the stack (up to
     LUA_MINSTACK / 2 of them) without checking its room */
  if (!lua_checkstack(d->L, LUA_MINSTACK)) return -1;
  luaL_buffinit(d->L, &b);
  luaL_addlstring(&b, start, (size_t)(p - start));
  while (p < d->end) {
    unsigned char c = (unsigned char)*p++;
    if (c == '"') {
      luaL_pushresult(&b);
      d->p = p;
      return 0;
    }
    if (c < 0x20) return -1;
    if (c != '\\') {
      luaL_addchar(&b, (char)c);
      continue;
    }
    if (p >= d->end) return -1;
    switch (*p++) {
      case '"': luaL_addchar(&b, '"'); break;
      case '\\': luaL_addchar(&b, '\\'); break;
      case '/': luaL_addchar(&b, '/'); break;
      case 'b': luaL_addchar(&b, '\b'); break;
      case 'f': luaL_addchar(&b, '\f'); break;
      case 'n': luaL_addchar(&b, '\n'); break;
      case 'r': luaL_addchar(&b, '\r'); break;
      case 't': luaL_addchar(&b, '\t'); break;
      case 'u':
        if (unicode_escape(&p, d->end, &b) != 0) return -1;
        break;
      default: return -1;
    }
  }
  return -1;
}

/* Whether any of the 8 bytes of w may be a quote, a backslash or under
   0x20 (the usual tests for a zero byte and for a byte under n: no false
   negative; a false positive only sends the scan to the byte loop). */
static int special8(uint64_t w) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  uint64_t t = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
  return (t & highs) != 0;
}

/* A string (d->p at its quote), pushed.  Its plain bytes are passed over 8
   at a time while 8 are left before the end. */
static int string(dec *d) {
  const char *start = ++d->p, *p = start;
  while (d->end - p >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    if (special8(w)) break;
    p += 8;
  }
  while (in_string[(unsigned char)*p] == C_PLAIN) p++;
  if (*p == '"') {
    lua_pushlstring(d->L, start, (size_t)(p - start));
    d->p = p + 1;
    return 0;
  }
  if (*p == '\\') return escaped_string(d, start, p);
  return -1; /* a control character, or the end */
}

static const char *digits(const char *p, const char *end) {
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p;
}

/* A number, as JSON writes one, pushed: a double, or the decimal text of an
   integer of 16 digits or more that a double would round. */
static int number(dec *d) {
  const char *p = d->p, *int_start, *int_end;
  char buf[64], *stop;
  size_t len;
  int integer = 1;
  double v;
  if (p < d->end && *p == '-') p++;
  int_start = p;
  if (p < d->end && *p == '0') p++;
  else if (p < d->end && *p >= '1' && *p <= '9') p = digits(p, d->end);
  else return -1;
  int_end = p;
  if (p < d->end && *p == '.') {
    const char *f = digits(p + 1, d->end);
    if (f == p + 1) return -1;
    p = f;
    integer = 0;
  }
  if (p < d->end && (*p == 'e' || *p == 'E')) {
    const char *e = p + 1, *x;
    if (e < d->end && (*e == '+' || *e == '-')) e++;
    x = digits(e, d->end);
    if (x == e) return -1;
    p = x;
    integer = 0;
  }
  len = (size_t)(p - d->p);
  if (len >= sizeof buf) return -1;
  memcpy(buf, d->p, len);
  buf[len] = '\0';
  v = strtod(buf, &stop);
  if (stop != buf + len) return -1; /* a locale with another decimal point */
  if (integer && int_end - int_start >= 16 && fabs(v) >= 9007199254740992.0)
    lua_pushlstring(d->L, d->p, len);
  else
    lua_pushnumber(d->L, (lua_Number)v);
  d->p = p;
  return 0;
}

static int literal(dec *d, const char *word, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) return -1;
  d->p += n;
  return 0;
}

/* The next container's member count, or -1 (a text pass 1 read otherwise). */
static int members(dec *d) {
  if (d->next >= d->ncounts || !lua_checkstack(d->L, 4)) return -1;
  return d->counts[d->next++];
}

/* After a member: 1 past the container's end, 0 past a comma, -1. */
static int after_member(dec *d, char close) {
  skip_ws(d);
  if (d->p >= d->end || (*d->p != close && *d->p != ',')) return -1;
  return *d->p++ == close;
}

static int object(dec *d) {
  lua_State *L = d->L;
  int n = members(d);
  if (n < 0) return -1;
  lua_createtable(L, 0, n);
  d->p++;
  skip_ws(d);
  if (d->p < d->end && *d->p == '}') {
    d->p++;
    return 0;
  }
  for (;;) {
    int r;
    if (d->p >= d->end || *d->p != '"' || string(d) != 0) return -1;
    skip_ws(d);
    if (d->p >= d->end || *d->p != ':') return -1;
    d->p++;
    if (value(d) != 0) return -1;
    lua_rawset(L, -3);
    r = after_member(d, '}');
    if (r != 0) return r > 0 ? 0 : -1;
    skip_ws(d);
  }
}

static int array(dec *d) {
  lua_State *L = d->L;
  int i = 1, n = members(d);
  if (n < 0) return -1;
  lua_createtable(L, n, 0);
  d->p++;
  skip_ws(d);
  if (d->p < d->end && *d->p == ']') {
    d->p++;
    if (d->mt) {
      lua_pushvalue(L, d->mt);
      lua_setmetatable(L, -2);
    }
    return 0;
  }
  for (;;) {
    int r;
    if (value(d) != 0) return -1;
    lua_rawseti(L, -2, i++);
    r = after_member(d, ']');
    if (r != 0) return r > 0 ? 0 : -1;
  }
}

static int value(dec *d) {
  int r;
  skip_ws(d);
  if (d->p >= d->end) return -1;
  switch (*d->p) {
    case '{': case '[':
      if (++d->depth > MAX_DEPTH) return -1;
      r = *d->p == '{' ? object(d) : array(d);
      d->depth--;
      return r;
    case '"': return string(d);
    case 't': lua_pushboolean(d->L, 1); return literal(d, "true", 4);
    case 'f': lua_pushboolean(d->L, 0); return literal(d, "false", 5);
    case 'n': lua_pushlightuserdata(d->L, NULL); return literal(d, "null", 4);
    default: return number(d);
  }
}

int sc_json_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int small[SMALL_COUNTS], *counts = small, containers;
  dec d;
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  containers = count_members(s, s + n, counts, SMALL_COUNTS);
  if (containers == -2) {
    /* as many as the text has '{' and '[' bytes, at most; in a userdata, so
       that a memory error while decoding frees it too */
    size_t i, opens = 0;
    for (i = 0; i < n; i++) opens += (s[i] == '{') | (s[i] == '[');
    if (opens >= 0x7ffffff0) return 0;
    counts = (int *)lua_newuserdatauv(L, opens * sizeof *counts, 0);
    containers = count_members(s, s + n, counts, (int)opens);
  }
  if (containers < 0) return 0;
  d.L = L;
  d.p = s;
  d.end = s + n;
  d.counts = counts;
  d.ncounts = containers;
  d.next = 0;
  d.mt = lua_isnil(L, 2) ? 0 : 2;
  d.depth = 0;
  if (value(&d) != 0) return 0;
  skip_ws(&d);
  return d.p == d.end ? 1 : 0;
}
