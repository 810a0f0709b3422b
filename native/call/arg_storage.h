// Where the memory an argument points to lives for the duration of a call: string copies, and the
// JS buffers an async call passes by address.
#pragma once
#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace dlswap {

// Bytes of string copies a sync call keeps on its stack before it falls back to the heap.
constexpr size_t kSyncStringBytes = 512;
// Same for an async call, inside the heap-allocated work item.
constexpr size_t kAsyncStringBytes = 128;

// Bump allocator for the string copies of one call: the first bytes live in a caller-provided buffer
// (the C stack for sync calls), longer strings in heap blocks, all released together. The heap
// blocks form an intrusive list so that a store that never overflowed costs one null test.
class StringStore {
 public:
  StringStore(char *buf, size_t cap) : buf_(buf), cap_(cap) {}
  StringStore(const StringStore &) = delete;
  StringStore &operator=(const StringStore &) = delete;
  ~StringStore() {
    while (heap_) {
      Block *next = heap_->next;
      delete[] reinterpret_cast<char *>(heap_);
      heap_ = next;
    }
  }

  char *cursor() { return buf_ + used_; }
  size_t remaining() const { return cap_ - used_; }
  void commit(size_t n) { used_ += n; }
  // nullptr when out of memory: callers throw a JS error rather than let bad_alloc escape a
  // Node-API callback (which would terminate the process).
  char *heap(size_t n) {
    if (n > SIZE_MAX - sizeof(Block)) return nullptr;
    char *raw = new (std::nothrow) char[sizeof(Block) + n];
    if (!raw) return nullptr;
    Block *b = new (raw) Block{heap_};
    heap_ = b;
    return raw + sizeof(Block);
  }

 private:
  struct Block {
    Block *next;
  };
  char *buf_;
  size_t cap_;
  size_t used_ = 0;
  Block *heap_ = nullptr;
};

// Where the JS-thread half of an async call keeps what the C call will read later. Null for sync
// calls, whose arguments are alive in the callback's handle scope until the call returns.
struct KeepAlive {
  napi_env env;
  std::vector<napi_ref> refs;
};

}  // namespace dlswap
