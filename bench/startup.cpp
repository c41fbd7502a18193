// Startup to first served read: from fork+exec of gastown-credfs to the
// first successful read of a rig file served by the mount (the file's device
// is the FUSE mount's, not the directory underneath, and it holds a
// credential line). Three ways:
//   foreground, cold: `-f`, polling the file every 0.2 ms; no fallback file,
//                     so the first token comes from the upstream.
//   foreground, warm: the same, with the fallback file and state record
//                     the previous run wrote (a restart): no upstream wait.
//   detached, cold:   without `-f`, the command returns once serving; the
//                     time is until it returned and one read succeeded.
//
// Not a test: it prints numbers. bench/run.sh builds and runs it.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "daemon_harness.hpp"
#include "fake_gastown.hpp"

namespace {

using credfs::bench::Flags;
using credfs::bench::SteadyClock;
using credfs::bench::Summary;
using credfs::fakes::FakeGastown;
using credfs::itest::DaemonHarness;
using credfs::itest::RefreshParams;
using namespace std::chrono_literals;

/// Starts the daemon (fork/exec), output to the harness's output file.
pid_t spawn(const DaemonHarness& h, bool foreground) {
    std::vector<std::string> argv = {credfs::bench::daemon_binary(), "--config", h.config_path()};
    if (foreground) argv.push_back("-f");
    argv.push_back(h.mountpoint());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const int out =
        ::open(h.output_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (foreground) ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        ::dup2(null_fd, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::close_range(3, ~0U, 0);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out);
    ::close(null_fd);
    return pid;
}

/// The rig file read through the mount holds a credential line.
bool served_read(const std::string& file, dev_t underlying) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    std::array<char, 4096> buf{};
    std::string data;
    bool ok = ::fstat(fd, &st) == 0 && st.st_dev != underlying;
    while (ok) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        data.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
    return ok && credfs::itest::token_from_line(data).has_value();
}

bool wait_reaped(pid_t pid, std::chrono::milliseconds timeout, int* status) {
    return credfs::itest::wait_until([&] { return ::waitpid(pid, status, WNOHANG) == pid; },
                                     timeout, 1ms);
}

/// Stops whatever serves the mount and waits until it is gone; `cold`
/// removes the fallback files underneath so the next start fetches anew.
bool teardown(DaemonHarness& h, pid_t foreground_pid, bool cold) {
    if (foreground_pid > 0) {
        ::kill(foreground_pid, SIGTERM);
        int status = 0;
        if (!wait_reaped(foreground_pid, 10s, &status)) {
            ::kill(foreground_pid, SIGKILL);
            wait_reaped(foreground_pid, 10s, &status);
        }
    } else {
        credfs::itest::run_process({"fusermount3", "-u", h.mountpoint()}, "", 10s);
    }
    if (!credfs::itest::wait_until([&] { return !h.mounted(); }, 10s, 2ms)) {
        credfs::itest::run_process({"fusermount3", "-u", "-z", h.mountpoint()}, "", 10s);
        return false;
    }
    if (cold) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(h.mountpoint(), ec)) {
            std::filesystem::remove(e.path(), ec);
        }
    }
    return true;
}

/// One start: milliseconds to the first served read, or negative on failure.
double one_start(DaemonHarness& h, bool foreground, bool cold) {
    const std::string file = h.file("rig-a");
    struct stat under {};
    ::stat(h.mountpoint().c_str(), &under);
    const auto t0 = SteadyClock::now();
    const pid_t pid = spawn(h, foreground);
    if (pid < 0) return -1;
    double ms = -1;
    if (foreground) {
        const auto deadline = t0 + 20s;
        while (SteadyClock::now() < deadline) {
            if (served_read(file, under.st_dev)) {
                ms = credfs::bench::ms_since(t0);
                break;
            }
            std::this_thread::sleep_for(200us);
        }
    } else {
        int status = 0;
        if (wait_reaped(pid, 20s, &status) && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
            served_read(file, under.st_dev)) {
            ms = credfs::bench::ms_since(t0);
        } else {
            ::kill(pid, SIGKILL);
            wait_reaped(pid, 5s, &status);
        }
    }
    if (!teardown(h, foreground ? pid : -1, cold)) return -1;
    return ms;
}

}  // namespace

int main(int argc, char** argv) {
    const Flags flags(argc, argv, {"iterations", "latency-ms"},
                      "bench_startup [--iterations N] [--latency-ms N]");
    const int iterations = static_cast<int>(flags.number("iterations", 20, 1, 1000));
    const int latency_ms = static_cast<int>(flags.number("latency-ms", 0, 0, 5000));
    const std::string rows = flags.text("rows");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g";

    FakeGastown fake(jwt);
    fake.set_ttl(3600);
    fake.set_latency(std::chrono::milliseconds(latency_ms));
    DaemonHarness harness;  // its destructor unmounts whatever is left
    harness.write_jwt(jwt);
    harness.write_config(fake.base_url(), RefreshParams{}, {{"rig-a", ""}});
    credfs::bench::set_log_level(harness.config_path(), "info");

    struct Mode {
        const char* name;
        bool foreground, cold;
        std::vector<double> ms;
        int failures = 0;
    };
    std::vector<Mode> modes = {{"foreground, cold", true, true, {}},
                               {"foreground, warm (fallback file)", true, false, {}},
                               {"detached, cold", false, true, {}}};
    // The warm mode needs a fallback file: one start leaves it behind.
    one_start(harness, true, false);
    for (int i = 0; i < iterations; ++i) {
        for (auto& m : modes) {
            if (!m.cold) one_start(harness, true, false);  // refresh the fallback file
            const double ms = one_start(harness, m.foreground, m.cold);
            if (ms < 0) {
                ++m.failures;
            } else {
                m.ms.push_back(ms);
            }
        }
    }

    std::ostringstream json;
    json << "{\n  \"benchmark\": \"startup\",\n  \"iterations\": " << iterations
         << ",\n  \"upstream_latency_ms\": " << latency_ms << ",\n  \"modes\": {";
    std::cout << "startup to first served read (" << iterations << " starts per mode, upstream "
              << latency_ms << " ms)\n";
    int failures = 0;
    for (std::size_t k = 0; k < modes.size(); ++k) {
        const Summary s = credfs::bench::summarize(modes[k].ms);
        failures += modes[k].failures;
        json << (k ? ", " : "") << "\"" << modes[k].name
             << "\": " << credfs::bench::json_summary(s, "ms");
        credfs::bench::table_row(
            rows, "startup", std::string(modes[k].name) + " p50 / max (ms)",
            credfs::bench::fixed(s.p50, 1) + " / " + credfs::bench::fixed(s.max, 1), "", "");
    }
    json << "},\n  \"failures\": " << failures << "\n}\n";
    if (failures > 0) std::cout << "  " << failures << " starts failed\n";
    if (!credfs::bench::write_json(flags.text("json"), json.str())) {
        std::cerr << "bench_startup: cannot write " << flags.text("json") << "\n";
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
