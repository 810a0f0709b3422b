/* Struct layout cases, each written once. layout.c compiles every declaration and exports, for each,
 * the declaration's own text (stringified by the preprocessor), C's sizeof and _Alignof, and offsetof
 * and sizeof of every member path listed in LAYOUT_MEMBERS. test/signature/types_layout.test.ts declares the
 * same text with dlswap and compares, and checks that LAYOUT_MEMBERS lists exactly the member paths
 * dlswap finds, so no member goes unchecked.
 *
 * X(id, type name, declaration...) -- declarations may use the types of earlier cases. */
/* The cases are a table, one declaration per row: clang-format leaves them as written. */
/* clang-format off */
#define LAYOUT_CASES(X)                                                                                   \
  X(scalars, struct scalars,                                                                            \
    struct scalars { char c; short s; int i; long l; float f; double d; bool b; uint8_t u8;             \
                     int64_t i64; void *p; unsigned char uc; long long ll; size_t sz; uint16_t u16; })  \
  X(point, struct point, struct point { int32_t x, y; })                                                \
  X(frame, struct frame,                                                                                \
    struct frame { uint32_t w; uint32_t h; uint8_t pix[16]; struct point origin; char name[5];          \
                   double scale; })                                                                     \
  X(poly, struct poly, struct poly { int n; struct point pts[3]; char tag; })                           \
  X(matrix, struct matrix, struct matrix { char s[5]; int m[2][3]; short z; })                          \
  X(tail, struct tail, struct tail { double d; char c; })                                               \
  X(lead, struct lead, struct lead { char c; double d; char e; int i; })                                \
  X(packed, struct packed,                                                                              \
    struct __attribute__((packed)) packed { uint8_t a; uint32_t b; uint16_t c; double d; char e; })     \
  X(packed_after, struct packed_after,                                                                  \
    struct packed_after { char a; struct point p; int64_t q; } __attribute__((packed)))                 \
  X(aligned, struct aligned, struct aligned { char a; int b; } __attribute__((aligned(16))))           \
  X(holder, struct holder, struct holder { char a; struct aligned al; char b; })                        \
  X(val, union val, union val { int64_t i; double d; char s[12]; struct point p; })                     \
  X(tagged, struct tagged, struct tagged { int kind; union val v; char after; })                        \
  X(anon, struct anon,                                                                                  \
    struct anon { int k; union { int a; float b; double wide; }; struct { char c1, c2; }; short z; })  \
  X(color, enum color, enum color { RED, GREEN = 5, BLUE })                                             \
  X(sign, enum sign, enum sign { NEG = -1, POS = 1 })                                                   \
  X(wide, enum wide, enum wide { W_SMALL = 1, W_BIG = 0x100000000 })                                   \
  X(painted, struct painted, struct painted { enum color c; char flag; enum wide w; enum sign s; })     \
  X(ops, struct ops,                                                                                    \
    struct ops { int (*cmp)(const void *, const void *); void (*handlers[3])(int); char last; })        \
  X(node, struct node, struct node { int value; struct node *next; struct node *prev; })                \
  X(qt, qt, typedef struct { char q; double r; } qt)                                                    \
  X(uses_qt, struct uses_qt, struct uses_qt { char a; qt inner[2]; qt *ptr; })                          \
  X(deep, struct deep,                                                                                  \
    struct deep { struct { struct { char a; long b; } in; short c; } mid; union { char x; int y; } u;  \
                  struct frame f; })                                                                    \
  X(u8only, struct u8only, struct u8only { uint8_t a, b, c; })                                          \
  X(floats, struct floats, struct floats { float a; float b; float c; })                                \
  X(mixed16, struct mixed16, struct mixed16 { int64_t i; double d; })

#define LAYOUT_MEMBERS(M)                                                                                  \
  M(struct scalars, c) M(struct scalars, s) M(struct scalars, i) M(struct scalars, l)                     \
  M(struct scalars, f) M(struct scalars, d) M(struct scalars, b) M(struct scalars, u8)                    \
  M(struct scalars, i64) M(struct scalars, p) M(struct scalars, uc) M(struct scalars, ll)                 \
  M(struct scalars, sz) M(struct scalars, u16)                                                           \
  M(struct point, x) M(struct point, y)                                                                  \
  M(struct frame, w) M(struct frame, h) M(struct frame, pix) M(struct frame, origin)                     \
  M(struct frame, origin.x) M(struct frame, origin.y) M(struct frame, name) M(struct frame, scale)       \
  M(struct poly, n) M(struct poly, pts) M(struct poly, tag)                                              \
  M(struct matrix, s) M(struct matrix, m) M(struct matrix, z)                                            \
  M(struct tail, d) M(struct tail, c)                                                                    \
  M(struct lead, c) M(struct lead, d) M(struct lead, e) M(struct lead, i)                                \
  M(struct packed, a) M(struct packed, b) M(struct packed, c) M(struct packed, d) M(struct packed, e)    \
  M(struct packed_after, a) M(struct packed_after, p) M(struct packed_after, p.x)                        \
  M(struct packed_after, p.y) M(struct packed_after, q)                                                  \
  M(struct aligned, a) M(struct aligned, b)                                                              \
  M(struct holder, a) M(struct holder, al) M(struct holder, al.a) M(struct holder, al.b)                 \
  M(struct holder, b)                                                                                    \
  M(union val, i) M(union val, d) M(union val, s) M(union val, p) M(union val, p.x) M(union val, p.y)    \
  M(struct tagged, kind) M(struct tagged, v) M(struct tagged, v.i) M(struct tagged, v.d)                 \
  M(struct tagged, v.s) M(struct tagged, v.p) M(struct tagged, v.p.x) M(struct tagged, v.p.y)            \
  M(struct tagged, after)                                                                                \
  M(struct anon, k) M(struct anon, a) M(struct anon, b) M(struct anon, wide) M(struct anon, c1)          \
  M(struct anon, c2) M(struct anon, z)                                                                   \
  M(struct painted, c) M(struct painted, flag) M(struct painted, w) M(struct painted, s)                 \
  M(struct ops, cmp) M(struct ops, handlers) M(struct ops, last)                                         \
  M(struct node, value) M(struct node, next) M(struct node, prev)                                        \
  M(qt, q) M(qt, r)                                                                                      \
  M(struct uses_qt, a) M(struct uses_qt, inner) M(struct uses_qt, ptr)                                   \
  M(struct deep, mid) M(struct deep, mid.in) M(struct deep, mid.in.a) M(struct deep, mid.in.b)           \
  M(struct deep, mid.c) M(struct deep, u) M(struct deep, u.x) M(struct deep, u.y) M(struct deep, f)      \
  M(struct deep, f.w) M(struct deep, f.h) M(struct deep, f.pix) M(struct deep, f.origin)                 \
  M(struct deep, f.origin.x) M(struct deep, f.origin.y) M(struct deep, f.name) M(struct deep, f.scale)   \
  M(struct u8only, a) M(struct u8only, b) M(struct u8only, c)                                            \
  M(struct floats, a) M(struct floats, b) M(struct floats, c)                                            \
  M(struct mixed16, i) M(struct mixed16, d)

/* Valid C that dlswap must refuse, each with the reason it gives. R(id, declaration...) */
#define LAYOUT_REFUSED(R)                                                                                 \
  R(bits, struct bits { unsigned a : 3; unsigned b : 5; int c; })                                       \
  R(flex, struct flex { int n; int data[]; })                                                           \
  R(ldbl, struct ldbl { long double x; })
/* clang-format on */
