#include "log_check.hpp"

#include <sys/wait.h>

#include <cstring>
#include <sstream>

namespace credfs::itest {

std::string ExpectedExit::describe() const {
    if (kind == Kind::ExitCode) return "exit code " + std::to_string(value);
    return "killed by signal " + std::to_string(value) + " (" + ::strsignal(value) + ")";
}

std::string describe_wait_status(int wait_status) {
    if (WIFEXITED(wait_status)) return ExpectedExit::exit_code(WEXITSTATUS(wait_status)).describe();
    if (WIFSIGNALED(wait_status)) return ExpectedExit::signal(WTERMSIG(wait_status)).describe();
    return "wait status " + std::to_string(wait_status);
}

std::string exit_mismatch(const ExpectedExit& expected, int wait_status) {
    const bool matches = expected.kind == ExpectedExit::Kind::ExitCode
                             ? WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == expected.value
                             : WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == expected.value;
    if (matches) return "";
    return "the daemon ended with " + describe_wait_status(wait_status) + ", expected " +
           expected.describe();
}

LineKind classify_line(const std::string& line) {
    // The sanitizers' report headers ("==123==ERROR: AddressSanitizer: ...",
    // "WARNING: ThreadSanitizer: data race", "SUMMARY: ...") and UBSan's
    // "file:line:col: runtime error: ...".
    static const std::regex kSanitizer(
        R"((AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer|UndefinedBehaviorSanitizer)|runtime error:)");
    // src/core/log.cpp's text pattern "<ISO time> <level> <message>", its
    // JSON records, and spdlog's default "[time] [level] message" (before
    // logging is set up).
    static const std::regex kError(
        R"re(^\S+ (error|critical) |"level":"(error|critical)"|\[(error|critical)\])re");
    if (std::regex_search(line, kSanitizer)) return LineKind::Sanitizer;
    if (std::regex_search(line, kError)) return LineKind::Error;
    return LineKind::Ordinary;
}

std::vector<std::string> unexpected_lines(const std::string& text,
                                          const std::vector<std::regex>& allowed) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        switch (classify_line(line)) {
            case LineKind::Ordinary:
                break;
            case LineKind::Sanitizer:
                out.push_back(line);
                break;
            case LineKind::Error: {
                bool excused = false;
                for (const auto& re : allowed) excused = excused || std::regex_search(line, re);
                if (!excused) out.push_back(line);
                break;
            }
        }
    }
    return out;
}

}  // namespace credfs::itest
