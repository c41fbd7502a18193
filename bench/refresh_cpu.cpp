// Refresh CPU: the daemon's CPU time (utime+stime from /proc/<pid>/stat, every
// thread, also the ones that exited) per background refresh, against the fake
// Gastown on 127.0.0.1 over HTTP or HTTPS (--tls 1: a throwaway self-signed
// certificate made at run time, trusted through source.ca_bundle; no key is
// stored anywhere). Short-lived tokens (default 3 s, renewed every 1.5..2 s)
// on many rigs keep the daemon refreshing; the window's CPU is divided by the
// upstream calls made in it. A refresh here is everything the daemon does
// for one: the request (connection, TLS), the thread that runs it, the
// publication and the fallback file's write-through.
//
// Not a test: it prints numbers. bench/run.sh builds and runs it.
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
using credfs::fakes::FakeGastown;
using credfs::itest::DaemonHarness;
using credfs::itest::RefreshParams;
using namespace std::chrono_literals;

}  // namespace

int main(int argc, char** argv) {
    const Flags flags(argc, argv, {"rigs", "window-s", "ttl-s", "tls", "label"},
                      "bench_refresh_cpu [--rigs N] [--window-s S] [--ttl-s S] [--tls 0|1] "
                      "[--label NAME]");
    const int rigs = static_cast<int>(flags.number("rigs", 50, 1, 10000));
    const double window_s = flags.number("window-s", 30, 1, 3600);
    const double ttl_s = flags.number("ttl-s", 3, 2, 3600);
    const bool tls = flags.number("tls", 1, 0, 1) != 0;
    const std::string label = flags.text("label", tls ? "refresh_cpu, https" : "refresh_cpu, http");
    const std::string rows = flags.text("rows");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g";
    credfs::bench::raise_nofile(4096);

    DaemonHarness harness;
    const std::string ca_file = harness.root() + "/upstream-ca.pem";
    FakeGastown fake(jwt, 0, tls ? ca_file : "");
    fake.set_ttl(ttl_s);
    // As GitHub's API does: connections stay open between refreshes, so the
    // daemon's connection reuse is what is measured (the fake's test
    // defaults close them after 1 s idle or 5 requests).
    fake.set_keep_alive(60, 100000);
    fake.stop();
    fake.start();
    RefreshParams refresh;
    // Each rig refreshes every ttl*(2/3 - U/6): 1.5..2 s for 3-s tokens.
    refresh.margin_s = ttl_s / 3;
    refresh.jitter_s = ttl_s / 6;
    refresh.min_ttl_s = ttl_s / 6;
    refresh.mandatory_s = ttl_s / 6;
    refresh.publish_delay_s = 0;
    refresh.read_timeout_s = 10;
    std::vector<credfs::itest::RigSpec> specs;
    specs.reserve(static_cast<std::size_t>(rigs));
    for (int i = 0; i < rigs; ++i) specs.push_back({"rig-" + std::to_string(100000 + i), ""});
    harness.write_jwt(jwt);
    harness.write_config(fake.base_url(), refresh, specs);
    credfs::bench::set_log_level(harness.config_path(), "info");
    if (tls) credfs::bench::set_config_value(harness.config_path(), "source", "ca_bundle", ca_file);

    if (const auto started = harness.start(60s); !started) {
        std::cerr << "bench_refresh_cpu: " << started.message() << "\n";
        return 1;
    }
    // Bounded: every rig's first token within a minute.
    if (!fake.wait_for_calls(rigs, SteadyClock::now() + 60s)) {
        std::cerr << "bench_refresh_cpu: only " << fake.calls() << " of " << rigs
                  << " rigs got a token within 60 s\n";
        return 1;
    }
    // Startup (config, mount, first fetches) is not what is measured.
    std::this_thread::sleep_for(std::chrono::duration<double>(ttl_s));

    const pid_t pid = harness.pid();
    const double cpu0 = credfs::bench::cpu_seconds(pid);
    const int calls0 = fake.calls();
    const auto s0 = SteadyClock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
    const double cpu1 = credfs::bench::cpu_seconds(pid);
    const int calls1 = fake.calls();
    const double elapsed_s = credfs::bench::ms_since(s0) / 1000;
    const long threads = credfs::bench::thread_count(pid);
    harness.stop();

    const int calls = calls1 - calls0;
    const double cpu_s = cpu1 - cpu0;
    const double ms_per_refresh = calls > 0 ? cpu_s * 1000 / calls : 0;
    std::ostringstream json;
    json << "{\n  \"benchmark\": \"refresh_cpu\",\n  \"label\": \"" << label << "\",\n"
         << "  \"tls\": " << (tls ? "true" : "false") << ",\n"
         << "  \"rigs\": " << rigs << ",\n  \"ttl_s\": " << ttl_s << ",\n"
         << "  \"window_s\": " << elapsed_s << ",\n"
         << "  \"upstream_calls\": " << calls << ",\n"
         << "  \"cpu_s\": " << cpu_s << ",\n"
         << "  \"daemon_threads_end\": " << threads << ",\n"
         << "  \"cpu_ms_per_refresh\": " << ms_per_refresh << "\n}\n";

    std::cout << label << " (" << rigs << " rigs, tokens " << ttl_s << " s; window "
              << credfs::bench::fixed(elapsed_s, 1) << " s): " << calls << " refreshes, "
              << credfs::bench::fixed(cpu_s, 2) << " s daemon CPU\n";
    const std::string name = label + " (" + std::to_string(rigs) + " rigs)";
    if (calls == 0) {
        std::cerr << "bench_refresh_cpu: no refresh in the window\n";
        return 1;
    }
    credfs::bench::table_row(rows, name, "daemon CPU per refresh (ms)",
                             credfs::bench::fixed(ms_per_refresh, 3), tls ? "<= 0.5 ms" : "",
                             tls ? credfs::bench::verdict(ms_per_refresh <= 0.5) : "");
    credfs::bench::table_row(rows, name, "refreshes in window / s",
                             credfs::bench::fixed(calls / elapsed_s, 1), "", "");
    if (!credfs::bench::write_json(flags.text("json"), json.str())) {
        std::cerr << "bench_refresh_cpu: cannot write " << flags.text("json") << "\n";
        return 1;
    }
    return 0;
}
