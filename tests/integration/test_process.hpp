// Child processes for the tests: running a command to completion with a
// deadline, and what every child started by a test needs (no inherited
// descriptors, no SIGPIPE in the test process).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace credfs::itest {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

/// Polls `condition` every `poll` until it holds or `timeout` passes.
/// Returns the last value of `condition`.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 20ms);

struct ProcessResult {
    int exit_code = -1;  ///< -1 when killed by a signal or timed out.
    bool timed_out = false;
    std::string output;  ///< stdout.
    std::string error;   ///< stderr.
};
/// Runs argv[0] (PATH lookup) with `input` on stdin; kills it after `timeout`.
/// Throws std::runtime_error when pipe2() or fork() fails.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          std::chrono::milliseconds timeout);

/// Closes every descriptor from 3 up. For a child between fork and exec:
/// async-signal-safe.
void close_inherited_fds();

/// Sets SIGPIPE to ignored in this process, once: writing to a child that
/// exited early must be an error (EPIPE), not a signal.
void ignore_sigpipe_once();

}  // namespace credfs::itest
