# Cross build for 64-bit Arm Linux with Debian's toolchain (g++-aarch64-linux-gnu) and an arm64
# libffi-dev installed through dpkg multiarch (dpkg --add-architecture arm64). Used by
# scripts/prebuilds.mjs --arch arm64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Libraries and headers come from the target's multiarch directories only; programs from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
