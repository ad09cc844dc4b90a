// Identity of the process that writes a run, so a later open can tell a live run from a dead one.
#pragma once

#include <cstdint>
#include <string>

namespace bitbench {

std::string store_host_name();
int64_t store_pid();

// A token that names one process incarnation on this machine: the boot id and the process start
// time (Linux /proc), so a recycled pid does not pass for the original process. Empty when the
// process does not exist; "pid" alone where /proc is unavailable.
std::string store_process_token(int64_t pid);

// Whether the process `pid` with `token` (as recorded by store_process_token) still runs here.
bool store_process_alive(int64_t pid, const std::string& token);

} // namespace bitbench
