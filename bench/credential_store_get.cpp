// `git credential-store --file=<path> get`, a real git process, reading a
// fresh rig file through the mount against the same bytes on tmpfs
// (/dev/shm). Runs alternate (mount, tmpfs, mount, ...) so machine noise hits
// both alike. This is what git does per HTTPS request with the store helper,
// so the ratio is what an agent's git sees.
//
// Not a test: it prints numbers. bench/run.sh builds and runs it.
#include <iostream>
#include <sstream>
#include <string>
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

const std::string kQuery = "protocol=https\nhost=github.com\n\n";

/// One `git credential-store get`: its wall time in ms, or a negative value
/// when it failed or printed no password (the output is never shown).
double one_get(const std::string& file) {
    const auto t0 = SteadyClock::now();
    const auto r = credfs::itest::run_process({"git", "credential-store", "--file=" + file, "get"},
                                              kQuery, 10s);
    const double ms = credfs::bench::ms_since(t0);
    const bool ok = r.exit_code == 0 && r.output.find("\npassword=ghs_") != std::string::npos;
    return ok ? ms : -1;
}

}  // namespace

int main(int argc, char** argv) {
    const Flags flags(argc, argv, {"runs"}, "bench_credential_store_get [--runs N]");
    const int runs = static_cast<int>(flags.number("runs", 200, 1, 100000));
    const std::string rows = flags.text("rows");
    const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.YmVuY2g";

    FakeGastown fake(jwt);
    fake.set_ttl(3600);
    DaemonHarness harness;
    const auto first = credfs::bench::mount_one_rig(harness, fake, jwt, RefreshParams{},
                                                    "bench_credential_store_get");
    if (!first) return 1;
    const std::string mount_file = harness.file("rig-a");
    const credfs::bench::TmpfsDir tmpfs;
    const std::string tmpfs_file = tmpfs.write("rig-a", *first);

    // Warm up: git's binary and libraries in the page cache, both paths.
    for (int i = 0; i < 5; ++i) {
        one_get(mount_file);
        one_get(tmpfs_file);
    }
    std::vector<double> mount_ms, tmpfs_ms;
    int failures = 0;
    const int calls_before = fake.calls();
    for (int i = 0; i < runs; ++i) {
        for (int k = 0; k < 2; ++k) {
            const bool mount = (i + k) % 2 == 0;
            const double ms = one_get(mount ? mount_file : tmpfs_file);
            if (ms < 0) {
                ++failures;
                continue;
            }
            (mount ? mount_ms : tmpfs_ms).push_back(ms);
        }
    }
    const int upstream_calls = fake.calls() - calls_before;
    harness.stop();

    const Summary m = credfs::bench::summarize(mount_ms);
    const Summary t = credfs::bench::summarize(tmpfs_ms);
    const double ratio_mean = m.mean / t.mean;
    const double ratio_p50 = m.p50 / t.p50;
    std::ostringstream json;
    json << "{\n  \"benchmark\": \"credential_store_get\",\n"
         << "  \"runs_each\": " << runs << ",\n"
         << "  \"failures\": " << failures << ",\n"
         << "  \"upstream_calls_during_measurement\": " << upstream_calls << ",\n"
         << "  \"mount\": " << credfs::bench::json_summary(m, "ms") << ",\n"
         << "  \"tmpfs\": " << credfs::bench::json_summary(t, "ms") << ",\n"
         << "  \"ratio_mean\": " << ratio_mean << ",\n"
         << "  \"ratio_p50\": " << ratio_p50 << "\n}\n";

    std::cout << "git credential-store get (" << runs << " runs each, interleaved; " << failures
              << " failures)\n";
    using credfs::bench::fixed;
    using credfs::bench::table_row;
    table_row(rows, "credential-store get", "mean mount / tmpfs (ms)",
              fixed(m.mean, 3) + " / " + fixed(t.mean, 3), "", "");
    table_row(rows, "credential-store get", "p50 mount / tmpfs (ms)",
              fixed(m.p50, 3) + " / " + fixed(t.p50, 3), "", "");
    table_row(rows, "credential-store get", "ratio mean / p50",
              fixed(ratio_mean, 3) + " / " + fixed(ratio_p50, 3), "< 1.10",
              credfs::bench::verdict(ratio_mean < 1.10 && ratio_p50 < 1.10));
    if (!credfs::bench::write_json(flags.text("json"), json.str())) {
        std::cerr << "bench_credential_store_get: cannot write " << flags.text("json") << "\n";
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
