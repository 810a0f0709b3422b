/* How many bytes the C library's allocator has handed out and not had back: the arenas' chunks in
 * use plus the blocks it mmap'ed. Loaded with isolation 'local', it binds to the process's own C
 * library, so it sees node's, V8's, the dynamic loader's and dlswap's native allocations, and
 * nothing of V8's JS heap (which V8 maps itself). test/hot/reload_memory.test.ts samples it between
 * reloads: a native leak per reload is a slope here, whatever V8's young generation does to RSS. */
#define _GNU_SOURCE

#include <malloc.h>
#include <stddef.h>

size_t heap_in_use(void) {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}
