#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "credfs/sources/exec_source.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

class ExecSourceTest : public ::testing::Test {
  protected:
    ExecSourceTest() {
        rig_.id = "rig-a";
        rig_.file = "a.cred";
    }
    /// A shell script in the temp dir, executable.
    std::string script(const std::string& name, const std::string& body) {
        const std::string path = dir_.path() + "/" + name;
        std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
        ::chmod(path.c_str(), 0700);
        return path;
    }
    std::string error_of(ExecSource& source) {
        try {
            source.fetch(rig_);
        } catch (const SourceError& e) {
            return e.what();
        }
        return "(no error)";
    }
    test::TempDir dir_;
    test::FakeClock clock_;
    RigConfig rig_;
};

TEST_F(ExecSourceTest, ParsesTheTokenAndPassesTheRigInTheEnvironment) {
    ExecSource source({script("ok", R"(printf '{"token": "ghs_%s_%s", "expires_at": 4070908800}' )"
                                    R"("$CREDFS_RIG_ID" "$CREDFS_RIG_FILE")")},
                      5, clock_);
    const Token t = source.fetch(rig_);
    EXPECT_EQ(t.value, "ghs_rig-a_a.cred");
    ASSERT_TRUE(t.expires_at);
}

TEST_F(ExecSourceTest, ExpiryIsOptional) {
    ExecSource source({script("noexp", R"(echo '{"token": "ghs_x"}')")}, 5, clock_);
    EXPECT_FALSE(source.fetch(rig_).expires_at);
}

TEST_F(ExecSourceTest, NonZeroExitReportsTheFirstStderrLinesRedacted) {
    ExecSource source({script("fail",
                              "echo 'no such app' >&2; echo 'leaked ghs_SECRET' >&2; "
                              "echo three >&2; echo four >&2; exit 3")},
                      5, clock_);
    const std::string e = error_of(source);
    EXPECT_NE(e.find("exit status 3"), std::string::npos) << e;
    EXPECT_NE(e.find("no such app | leaked [REDACTED] | three"), std::string::npos) << e;
    EXPECT_EQ(e.find("four"), std::string::npos) << e;
    EXPECT_EQ(e.find("ghs_SECRET"), std::string::npos) << e;
}

/// True when `pid` is gone or a zombie (killed, not yet reaped by init).
bool dead(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const size_t paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST_F(ExecSourceTest, ATimeoutKillsTheWholeProcessGroup) {
    const std::string pid_file = dir_.path() + "/grandchild.pid";
    // The script leaves a grandchild behind that ignores SIGTERM; a timeout
    // must take it too.
    ExecSource source({script("hang", "trap '' TERM; sh -c 'echo $$ > " + pid_file +
                                          "; exec sleep 30' & sleep 30")},
                      0.5, clock_);
    const std::string e = error_of(source);
    EXPECT_NE(e.find("no answer within 0.5 s (killed)"), std::string::npos) << e;
    pid_t grandchild = 0;
    ASSERT_TRUE(test::eventually([&] {
        std::ifstream in(pid_file);
        return static_cast<bool>(in >> grandchild);
    }));
    EXPECT_TRUE(test::eventually([&] { return dead(grandchild); }))
        << "the grandchild " << grandchild << " survived the timeout";
}

TEST_F(ExecSourceTest, BadOutputIsAnError) {
    ExecSource html({script("html", "echo '<html>nope</html>'")}, 5, clock_);
    EXPECT_NE(error_of(html).find("response is not a JSON object"), std::string::npos);
    ExecSource big({script("big", "head -c 10000000 /dev/zero | tr '\\\\0' a")}, 5, clock_);
    EXPECT_NE(error_of(big).find("stdout over 64 KiB (killed)"), std::string::npos);
    ExecSource missing({dir_.path() + "/absent"}, 5, clock_);
    EXPECT_NE(error_of(missing).find("cannot start"), std::string::npos);
}

}  // namespace
}  // namespace credfs
