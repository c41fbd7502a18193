// The teardown check of every test that starts the daemon (DaemonHarness):
// the daemon exited the way the test said it would (exit code 0 unless told
// otherwise), and neither its log nor its stderr holds an error or critical
// line the test did not expect, nor any sanitizer report. The allow-list per
// test follows libfuse's test suite, which fails a test on an unexpected line
// in the daemon's output.
#pragma once

#include <regex>
#include <string>
#include <vector>

namespace credfs::itest {

/// How a test expects the daemon to end.
struct ExpectedExit {
    enum class Kind { ExitCode, Signal };
    Kind kind = Kind::ExitCode;
    int value = 0;  ///< The exit code (0..255) or the signal number.

    static ExpectedExit exit_code(int code) { return {Kind::ExitCode, code}; }
    static ExpectedExit signal(int sig) { return {Kind::Signal, sig}; }
    std::string describe() const;  ///< "exit code 0", "killed by signal 9 (Killed)"
};

/// What waitpid()'s `wait_status` says, in words.
std::string describe_wait_status(int wait_status);

/// Empty when `wait_status` (from waitpid) is what `expected` says, else one
/// line saying what was expected and what happened.
std::string exit_mismatch(const ExpectedExit& expected, int wait_status);

/// A line of the daemon's log or stderr as the check sees it.
enum class LineKind {
    Ordinary,
    Error,      ///< a log record at level error or critical (text or JSON format)
    Sanitizer,  ///< a report line of ASan, LSan, TSan or UBSan
};
LineKind classify_line(const std::string& line);

/// The lines of `text` that fail the check: every sanitizer report line (no
/// allow-list entry excuses one), and every error or critical record that
/// none of `allowed` finds (std::regex_search over the whole line).
std::vector<std::string> unexpected_lines(const std::string& text,
                                          const std::vector<std::regex>& allowed);

}  // namespace credfs::itest
