// Helpers the benchmark programs share: flags, percentiles, JSON and table
// output, the daemon's /proc numbers. Benchmarks print numbers; they never
// assert on timing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "fake_gastown.hpp"

namespace credfs::bench {

using SteadyClock = std::chrono::steady_clock;

/// "--name value" flags. Unknown flags and a flag without a value exit(2)
/// with `usage`. Every benchmark accepts --json PATH and --rows PATH.
class Flags {
  public:
    Flags(int argc, char** argv, const std::vector<std::string>& known, std::string usage);
    double number(const std::string& name, double fallback, double min, double max) const;
    std::string text(const std::string& name, const std::string& fallback = "") const;

  private:
    std::map<std::string, std::string> values_;
};

double us_since(SteadyClock::time_point t0);
double ms_since(SteadyClock::time_point t0);

/// Nearest-rank percentile of an unsorted sample.
double percentile(std::vector<double> v, double p);

struct Summary {
    double p50 = 0, p99 = 0, max = 0, mean = 0;
    std::size_t n = 0;
};
Summary summarize(const std::vector<double>& v);
/// {"n": …, "p50": …, "p99": …, "max": …, "mean": …} in `unit` (a key suffix).
std::string json_summary(const Summary& s, const std::string& unit);

/// Writes `json` to `path` (or stdout when empty). False when it cannot.
bool write_json(const std::string& path, const std::string& json);

/// One markdown row of the summary table bench/run.sh prints: appended to
/// `rows_path` (nothing when empty) and printed.
void table_row(const std::string& rows_path, const std::string& benchmark,
               const std::string& metric, const std::string& value, const std::string& target,
               const std::string& verdict);
std::string fixed(double v, int decimals);
/// "met", "missed" or "n/a" (no target).
std::string verdict(bool met);

/// Rewrites the harness's config with log.level `level` (the harness logs at
/// debug; the benchmarks measure the default, info).
void set_log_level(const std::string& config_path, const std::string& level);
/// Sets `section`.`key` to the string `value` in the daemon's config file
/// (rewritten whole, temp + rename). Throws std::runtime_error.
void set_config_value(const std::string& config_path, const std::string& section,
                      const std::string& key, const std::string& value);

/// Raises RLIMIT_NOFILE's soft limit to at least `want` (up to the hard
/// limit); returns the soft limit now in force.
unsigned long raise_nofile(unsigned long want);

/// VmRSS of `pid` in KiB (0 when unreadable).
long rss_kib(pid_t pid);
/// utime + stime of `pid` in seconds (negative when unreadable).
double cpu_seconds(pid_t pid);
/// Number of threads of `pid` (0 when unreadable).
long thread_count(pid_t pid);
/// read() system calls `pid` made so far (/proc/<pid>/io syscr; 0 when
/// unreadable). For the daemon, one per FUSE request it received.
long read_syscalls(pid_t pid);

/// open()+read()-to-EOF+close() of `path` into `buf`; bytes read, or -errno.
long read_file(const std::string& path, char* buf, std::size_t size);

/// Where the daemon binary is (set by bench/CMakeLists.txt).
const char* daemon_binary();

/// Mounts the daemon on `harness` with one rig, "rig-a", against `fake`
/// (`jwt` its container token), logging at info, and reads the rig file once.
/// Returns that content, or nullopt after one line on stderr naming `program`.
std::optional<std::string> mount_one_rig(itest::DaemonHarness& harness, fakes::FakeGastown& fake,
                                         const std::string& jwt,
                                         const itest::RefreshParams& refresh, const char* program);

/// A throwaway directory on tmpfs (/dev/shm); removed by the destructor with
/// everything in it.
class TmpfsDir {
  public:
    TmpfsDir();
    ~TmpfsDir();
    TmpfsDir(const TmpfsDir&) = delete;
    TmpfsDir& operator=(const TmpfsDir&) = delete;
    const std::string& path() const { return path_; }
    /// Writes `content` to `name` with mode 0600; returns the full path.
    std::string write(const std::string& name, const std::string& content) const;

  private:
    std::string path_;
};

}  // namespace credfs::bench
