// What the namespace runtime did on a library's behalf, for NODE_DEBUG=dlswap: a dlopen it adjusted
// or redirected, a process exit it turned into a failed load. Made on any thread (a library's own
// threads load modules at run time), taken by lib/load/runtime_notes.ts after each open and close.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dlswap {

// Keeps `text` unless the same text was noted before (a library that dlopens in a loop says it once)
// or 256 notes wait already (then it is counted as dropped).
void AddRuntimeNote(const std::string &text);

// The notes made since the last call, oldest first, and how many were dropped meanwhile.
std::vector<std::string> TakeRuntimeNotes(uint64_t &dropped);

// The file name of the object whose code is at `address` ("" if none): who made a call.
std::string ObjectNameAt(const void *address);

}  // namespace dlswap
