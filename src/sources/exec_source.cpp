#include "credfs/sources/exec_source.hpp"

#include <sys/wait.h>

#include <fmt/format.h>

#include "credfs/core/log.hpp"
#include "credfs/sources/gastown_source.hpp"
#include "credfs/sources/subprocess.hpp"

namespace credfs {

namespace {

constexpr size_t kMaxStdout = size_t{64} * 1024;
constexpr size_t kMaxStderr = size_t{4} * 1024;

/// The first lines of the command's stderr, redacted and short, for one log line.
std::string stderr_excerpt(const std::string& err) {
    std::string out;
    int lines = 0;
    for (size_t at = 0; at < err.size() && lines < 3; ++lines) {
        size_t end = err.find('\n', at);
        if (end == std::string::npos) end = err.size();
        out += (out.empty() ? "" : " | ") + err.substr(at, end - at);
        at = end + 1;
    }
    out = redact(printable(out));
    if (out.size() > 300) {
        out.resize(300);
        out += "...";
    }
    return out.empty() ? "" : "; stderr: " + out;
}

}  // namespace

ExecSource::ExecSource(std::vector<std::string> command, double timeout_s, const Clock& clock)
    : command_(std::move(command)), timeout_s_(timeout_s), clock_(clock) {}

Token ExecSource::fetch(const RigConfig& rig) {
    const std::string who = "rig " + rig.id + ": exec " + printable(command_.front());
    SubprocessOptions options;
    options.timeout_s = timeout_s_;
    options.max_stdout = kMaxStdout;
    options.max_stderr = kMaxStderr;
    options.new_process_group = true;  // so a timeout kills all of it
    // The rig comes from us alone, not from whatever the daemon inherited.
    options.drop_env_prefix = "CREDFS_RIG_";
    options.add_env = {"CREDFS_RIG_ID=" + rig.id, "CREDFS_RIG_FILE=" + rig.file};
    const SubprocessResult r = run_subprocess(command_, options);
    if (!r.start_error.empty()) throw SourceError(who + ": cannot start: " + r.start_error);
    if (r.timed_out) {
        throw SourceError(who + ": no answer within " + fmt::format("{:g}", timeout_s_) +
                          " s (killed)" + stderr_excerpt(r.err));
    }
    if (r.out_too_big) throw SourceError(who + ": stdout over 64 KiB (killed)");
    if (WIFSIGNALED(r.wait_status)) {
        throw SourceError(who + ": killed by signal " + std::to_string(WTERMSIG(r.wait_status)) +
                          stderr_excerpt(r.err));
    }
    if (WEXITSTATUS(r.wait_status) != 0) {
        throw SourceError(who + ": exit status " + std::to_string(WEXITSTATUS(r.wait_status)) +
                          stderr_excerpt(r.err));
    }
    try {
        return parse_gastown_response(r.out, clock_.now());
    } catch (const SourceError& e) {
        throw SourceError(who + ": " + e.what());
    }
}

}  // namespace credfs
