// What the JS thread is blocked in, seen from a thread that waits for it (cross_thread.cc): the one
// wait that is certainly a deadlock is the JS thread joining the waiting thread itself. glibc's
// pthread_join sleeps on a futex at the joined thread's "clear child tid" address, which the kernel
// clears (and wakes) when that thread exits; /proc shows a blocked thread's system call and its
// arguments, and prctl(PR_GET_TID_ADDRESS) tells a thread its own address.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "callback/callback_slot.h"

namespace dlswap::callback {

namespace {

// The calling thread's clear-child-tid address, 0 when the kernel cannot tell (a kernel without
// CONFIG_CHECKPOINT_RESTORE: then no deadlock is detected, and the deadline still bounds the wait).
// Trivially destructible thread-locals: nothing runs at thread exit.
uintptr_t OwnTidAddress() {
  thread_local uintptr_t address = 0;
  thread_local bool known = false;
  if (!known) {
    int *p = nullptr;
    if (prctl(PR_GET_TID_ADDRESS, &p, 0, 0, 0) == 0) address = reinterpret_cast<uintptr_t>(p);
    known = true;
  }
  return address;
}

}  // namespace

bool JoinsCallingThread(pid_t tid) {
  const uintptr_t mine = OwnTidAddress();
  if (mine == 0) return false;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  // "<nr> 0x<arg0> 0x<arg1> ... 0x<sp> 0x<pc>" while blocked in a system call; "running" otherwise.
  char *end = nullptr;
  const long nr = std::strtol(buf, &end, 10);
  if (end == buf || nr != SYS_futex) return false;
  const unsigned long long arg0 = std::strtoull(end, nullptr, 16);
  return arg0 == static_cast<unsigned long long>(mine);
}

}  // namespace dlswap::callback
