// The teardown check itself (log_check.hpp, DaemonHarness::check): it must
// fail a test when the daemon's log holds an error line nobody allowed, when
// a sanitizer reported, and when the daemon ended otherwise than expected;
// and it must stay quiet when the test said what to expect.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "daemon_harness.hpp"
#include "log_check.hpp"
#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

constexpr char kErrorLine[] =
    "2026-01-01T00:00:00.000+0000 error rig-a: refresh failed: connection refused";

int exited(int code) { return (code & 0xff) << 8; }  // the wait status of exit(code)

TEST(LogCheck, ClassifiesErrorCriticalAndSanitizerLines) {
    EXPECT_EQ(classify_line(kErrorLine), LineKind::Error);
    EXPECT_EQ(classify_line("2026-01-01T00:00:00.000+0000 critical fuse loop died"),
              LineKind::Error);
    EXPECT_EQ(classify_line(R"({"time":"x","level":"error","msg":"m"})"), LineKind::Error);
    EXPECT_EQ(classify_line("[2026-01-01 00:00:00.000] [error] early"), LineKind::Error);
    EXPECT_EQ(classify_line("2026-01-01T00:00:00.000+0000 warning rig-a: error budget low"),
              LineKind::Ordinary);
    EXPECT_EQ(classify_line("2026-01-01T00:00:00.000+0000 info rig-a: no error"),
              LineKind::Ordinary);
    EXPECT_EQ(classify_line("==12==ERROR: LeakSanitizer: detected memory leaks"),
              LineKind::Sanitizer);
    EXPECT_EQ(classify_line("==12==ERROR: AddressSanitizer: heap-use-after-free"),
              LineKind::Sanitizer);
    EXPECT_EQ(classify_line("WARNING: ThreadSanitizer: data race (pid=12)"), LineKind::Sanitizer);
    EXPECT_EQ(classify_line("src/engine/rig.cpp:10:5: runtime error: signed integer overflow"),
              LineKind::Sanitizer);
}

TEST(LogCheck, AnAllowedErrorPassesAndASanitizerReportNeverDoes) {
    const std::string text = std::string(kErrorLine) +
                             "\n2026-01-01T00:00:00.000+0000 info fine\n"
                             "==12==ERROR: LeakSanitizer: detected memory leaks\n";
    EXPECT_EQ(unexpected_lines(text, {}).size(), 2U);
    const std::vector<std::regex> allowed{std::regex("refresh failed"),
                                          std::regex("LeakSanitizer")};
    EXPECT_EQ(unexpected_lines(text, allowed),
              std::vector<std::string>{"==12==ERROR: LeakSanitizer: detected memory leaks"});
}

TEST(LogCheck, ExitMismatchNamesWhatHappenedAndWhatWasExpected) {
    EXPECT_EQ(exit_mismatch(ExpectedExit::exit_code(0), exited(0)), "");
    EXPECT_EQ(exit_mismatch(ExpectedExit::exit_code(0), exited(1)),
              "the daemon ended with exit code 1, expected exit code 0");
    EXPECT_EQ(exit_mismatch(ExpectedExit::signal(SIGKILL), SIGKILL), "");
    EXPECT_NE(exit_mismatch(ExpectedExit::exit_code(0), SIGKILL).find("killed by signal 9"),
              std::string::npos);
    EXPECT_NE(exit_mismatch(ExpectedExit::signal(SIGKILL), exited(0)), "");
}

void harness_with_log(const std::string& log, const std::string& allow) {
    DaemonHarness h;
    if (!allow.empty()) h.allow_log_line(allow);
    std::ofstream(h.log_path()) << log << "\n";
}

TEST(TeardownCheck, AnUnexpectedErrorLineInTheLogFailsTheTest) {
    EXPECT_NONFATAL_FAILURE(harness_with_log(kErrorLine, ""),
                            "unexpected line in the daemon's log");
}

TEST(TeardownCheck, AnAllowedErrorLineDoesNotFailTheTest) {
    harness_with_log(kErrorLine, "refresh failed: connection refused");
}

TEST(TeardownCheck, ASanitizerReportOnStderrFailsTheTestEvenWhenAllowed) {
    EXPECT_NONFATAL_FAILURE(
        [] {
            DaemonHarness h;
            h.allow_log_line(".*");
            std::ofstream(h.output_path()) << "==1==ERROR: AddressSanitizer: SEGV\n";
        }(),
        "unexpected line in the daemon's stderr");
}

class TeardownCheckDaemon : public MountTest {
  protected:
    /// Runs a real daemon in a harness of its own: kills it with `sig` (0:
    /// lets the harness stop it with SIGTERM), expecting `expected`.
    void run_daemon(int sig, const ExpectedExit& expected) {
        DaemonHarness h;
        if (expected.kind == ExpectedExit::Kind::Signal) {
            h.expect_killed_by_signal(expected.value);
        } else {
            h.expect_exit_code(expected.value);
        }
        h.write_jwt(kJwt);
        h.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}});
        EXPECT_TRUE(h.start());
        if (sig != 0) {
            ::kill(h.pid(), sig);
            EXPECT_TRUE(wait_until([&] { return !h.alive(); }, 10s));
        }
    }
};

TEST_F(TeardownCheckDaemon, ACleanStopPasses) { run_daemon(0, ExpectedExit::exit_code(0)); }

TEST_F(TeardownCheckDaemon, AKillTheTestAnnouncedPasses) {
    run_daemon(SIGKILL, ExpectedExit::signal(SIGKILL));
}

TEST_F(TeardownCheckDaemon, AnUnannouncedKillFailsTheTest) {
    EXPECT_NONFATAL_FAILURE(run_daemon(SIGKILL, ExpectedExit::exit_code(0)), "killed by signal 9");
}

TEST_F(TeardownCheckDaemon, AnExitCodeOtherThanTheExpectedOneFailsTheTest) {
    EXPECT_NONFATAL_FAILURE(run_daemon(0, ExpectedExit::exit_code(3)),
                            "ended with exit code 0, expected exit code 3");
}

}  // namespace
}  // namespace credfs::itest
