#include "bench_common.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json/json.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>

#ifndef CREDFS_BINARY
#error "CREDFS_BINARY must name the gastown-credfs executable"
#endif

namespace credfs::bench {

Flags::Flags(int argc, char** argv, const std::vector<std::string>& known, std::string usage) {
    std::vector<std::string> all = known;
    all.push_back("json");
    all.push_back("rows");
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        const bool ok = flag.starts_with("--") &&
                        std::find(all.begin(), all.end(), flag.substr(2)) != all.end();
        if (!ok || i + 1 >= argc) {
            std::cerr << (ok ? "missing value for " + flag : "unknown flag " + flag) << "\n"
                      << "usage: " << usage << " [--json PATH] [--rows PATH]\n";
            std::exit(2);
        }
        values_[flag.substr(2)] = argv[++i];
    }
}

double Flags::number(const std::string& name, double fallback, double min, double max) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    return std::clamp(std::atof(it->second.c_str()), min, max);
}

std::string Flags::text(const std::string& name, const std::string& fallback) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

double us_since(SteadyClock::time_point t0) {
    return std::chrono::duration<double, std::micro>(SteadyClock::now() - t0).count();
}

double ms_since(SteadyClock::time_point t0) {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999);
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

Summary summarize(const std::vector<double>& v) {
    Summary s;
    s.n = v.size();
    s.p50 = percentile(v, 50);
    s.p99 = percentile(v, 99);
    for (const double x : v) {
        s.max = std::max(s.max, x);
        s.mean += x / static_cast<double>(v.size());
    }
    return s;
}

std::string json_summary(const Summary& s, const std::string& unit) {
    std::ostringstream out;
    out << "{\"n\": " << s.n << ", \"p50_" << unit << "\": " << s.p50 << ", \"p99_" << unit
        << "\": " << s.p99 << ", \"max_" << unit << "\": " << s.max << ", \"mean_" << unit
        << "\": " << s.mean << "}";
    return out.str();
}

bool write_json(const std::string& path, const std::string& json) {
    if (path.empty()) {
        std::cout << json;
        return true;
    }
    std::ofstream out(path);
    out << json;
    return static_cast<bool>(out);
}

void table_row(const std::string& rows_path, const std::string& benchmark,
               const std::string& metric, const std::string& value, const std::string& target,
               const std::string& verdict) {
    const std::string row =
        "| " + benchmark + " | " + metric + " | " + value + " | " + target + " | " + verdict + " |";
    std::cout << "  " << metric << ": " << value << (target.empty() ? "" : "  (target " + target)
              << (target.empty() ? "" : ", " + verdict + ")") << "\n";
    if (rows_path.empty()) return;
    std::ofstream out(rows_path, std::ios::app);
    out << row << "\n";
}

std::string fixed(double v, int decimals) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(decimals) << v;
    return out.str();
}

std::string verdict(bool met) { return met ? "met" : "missed"; }

void set_config_value(const std::string& config_path, const std::string& section,
                      const std::string& key, const std::string& value) {
    Json::Value cfg;
    {
        std::ifstream in(config_path);
        Json::CharReaderBuilder reader;
        std::string errors;
        if (!Json::parseFromStream(reader, in, &cfg, &errors)) {
            throw std::runtime_error("cannot parse " + config_path + ": " + errors);
        }
    }
    cfg[section][key] = value;
    const std::string tmp = config_path + ".tmp";
    {
        std::ofstream out(tmp);
        out << Json::writeString(Json::StreamWriterBuilder{}, cfg) << "\n";
        if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    std::filesystem::rename(tmp, config_path);
}

void set_log_level(const std::string& config_path, const std::string& level) {
    set_config_value(config_path, "log", "level", level);
}

unsigned long raise_nofile(unsigned long want) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < want) {
        lim.rlim_cur = std::min<rlim_t>(want, lim.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &lim);
        ::getrlimit(RLIMIT_NOFILE, &lim);
    }
    return lim.rlim_cur;
}

namespace {

long proc_field(pid_t pid, const std::string& file, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key + ":", 0) == 0) return std::atol(line.c_str() + key.size() + 1);
    }
    return 0;
}

}  // namespace

long rss_kib(pid_t pid) { return proc_field(pid, "status", "VmRSS"); }

long thread_count(pid_t pid) { return proc_field(pid, "status", "Threads"); }

long read_syscalls(pid_t pid) { return proc_field(pid, "io", "syscr"); }

double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    // Fields after the command name (which may hold spaces) start after ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long read_file(const std::string& path, char* buf, std::size_t size) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long total = 0;
    while (static_cast<std::size_t>(total) < size) {
        const ssize_t n = ::read(fd, buf + total, size - static_cast<std::size_t>(total));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            total = -errno;
            break;
        }
        if (n == 0) break;
        total += n;
    }
    ::close(fd);
    return total;
}

const char* daemon_binary() {
    const char* other = std::getenv("CREDFS_DAEMON_BINARY");  // as DaemonHarness
    return other != nullptr && *other != '\0' ? other : CREDFS_BINARY;
}

TmpfsDir::TmpfsDir() {
    char tmpl[] = "/dev/shm/credfs-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        throw std::runtime_error(std::string("mkdtemp on /dev/shm: ") + std::strerror(errno));
    }
    path_ = tmpl;
}

TmpfsDir::~TmpfsDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TmpfsDir::write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + file + ": " + std::strerror(errno));
    const bool ok =
        ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + file);
    return file;
}

std::optional<std::string> mount_one_rig(itest::DaemonHarness& harness, fakes::FakeGastown& fake,
                                         const std::string& jwt,
                                         const itest::RefreshParams& refresh, const char* program) {
    harness.write_jwt(jwt);
    harness.write_config(fake.base_url(), refresh, {{"rig-a", ""}});
    set_log_level(harness.config_path(), "info");
    if (const auto started = harness.start(); !started) {
        std::cerr << program << ": " << started.message() << "\n";
        return std::nullopt;
    }
    const auto first = itest::read_whole_file(harness.file("rig-a"));
    if (first.error != 0 || !itest::token_from_line(first.data)) {
        std::cerr << program << ": the rig file gave no credential line\n";
        return std::nullopt;
    }
    return first.data;
}

}  // namespace credfs::bench
