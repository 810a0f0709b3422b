/* Layout tables of the cases in cases.h, computed by the C compiler (see cases.h). */
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cases.h"

#define DECLARE(id, type, ...) __VA_ARGS__;
LAYOUT_CASES(DECLARE)
#define DECLARE_REFUSED(id, ...) __VA_ARGS__;
LAYOUT_REFUSED(DECLARE_REFUSED)

struct layout_case {
  const char *id, *type, *decl;
  size_t size, align;
};
struct layout_member {
  const char *type, *path;
  size_t offset, size;
};

#define CASE_ENTRY(id, type, ...) {#id, #type, #__VA_ARGS__, sizeof(type), alignof(type)},
static const struct layout_case cases[] = {LAYOUT_CASES(CASE_ENTRY)};
#define MEMBER_ENTRY(type, path) {#type, #path, offsetof(type, path), sizeof(((type *)0)->path)},
static const struct layout_member members[] = {LAYOUT_MEMBERS(MEMBER_ENTRY)};
#define REFUSED_ENTRY(id, ...) #__VA_ARGS__,
static const char *const refused[] = {LAYOUT_REFUSED(REFUSED_ENTRY)};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

int layout_case_count(void) { return COUNT(cases); }
const char *layout_case_id(int i) { return i >= 0 && i < COUNT(cases) ? cases[i].id : 0; }
const char *layout_case_type(int i) { return i >= 0 && i < COUNT(cases) ? cases[i].type : 0; }
const char *layout_case_decl(int i) { return i >= 0 && i < COUNT(cases) ? cases[i].decl : 0; }
size_t layout_case_size(int i) { return i >= 0 && i < COUNT(cases) ? cases[i].size : 0; }
size_t layout_case_align(int i) { return i >= 0 && i < COUNT(cases) ? cases[i].align : 0; }

int layout_member_count(void) { return COUNT(members); }
const char *layout_member_type(int i) { return i >= 0 && i < COUNT(members) ? members[i].type : 0; }
const char *layout_member_path(int i) { return i >= 0 && i < COUNT(members) ? members[i].path : 0; }
size_t layout_member_offset(int i) { return i >= 0 && i < COUNT(members) ? members[i].offset : 0; }
size_t layout_member_size(int i) { return i >= 0 && i < COUNT(members) ? members[i].size : 0; }

int layout_refused_count(void) { return COUNT(refused); }
const char *layout_refused_decl(int i) { return i >= 0 && i < COUNT(refused) ? refused[i] : 0; }
