// Running a program to completion from a test process: the CGI bridge runs
// `git http-backend` with it, the fixtures and the e2e tests run git.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace credfs::fakes {

/// What run_program() saw.
struct ProgramResult {
    int exit_code = -1;  ///< -1: killed by a signal, timed out or not started.
    bool timed_out = false;
    std::string out;
    std::string err;
};

/// Runs a program to completion with `env` as its whole environment and
/// `input` on stdin; captures stdout and stderr. Kills it after `timeout`.
/// `argv[0]` is looked up in env's PATH. A spawn failure is reported in
/// `err` with exit_code -1; nothing throws.
ProgramResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& input, std::chrono::milliseconds timeout);

/// Ignores SIGPIPE for the whole process (once; later calls do nothing), so a
/// write to a child or peer that went away fails with EPIPE instead of
/// killing the test process.
void ignore_sigpipe();

}  // namespace credfs::fakes
