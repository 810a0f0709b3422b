// Whether the process is ending: its main JS environment is being torn down (node's own teardown,
// before exit()), or exit() began (process.exit()). From then on an image nobody closed is left
// to the dynamic loader's teardown, where _dl_fini runs its destructors, rather than closed:
// closing it then could only race the threads it still runs, for nothing.
#pragma once

namespace dlswap {

void NoteProcessEnding();
bool ProcessEnding();

}  // namespace dlswap
