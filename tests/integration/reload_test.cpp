// SIGHUP re-reads the config: rigs appear and disappear, settings apply, and
// a bad config is refused while the running one keeps serving.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "mount_fixture.hpp"

namespace credfs::itest {
namespace {

class ReloadTest : public MountTest {
  protected:
    void SetUp() override { fake_.set_ttl(3600); }
    std::string listing() {
        return run_process({"ls", "-A", harness_.mountpoint()}, "", 20s).output;
    }
    void hangup() { ASSERT_EQ(::kill(harness_.pid(), SIGHUP), 0); }
};

TEST_F(ReloadTest, AddedRigsAppearRemovedOnesGoAndTheirStaticFilesStay) {
    const int dir_fd = ::open(harness_.mountpoint().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(dir_fd, 0);
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    const int calls_a = fake_.calls("rig-a");

    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", ""}, {"rig-b", ""}});
    ASSERT_NO_FATAL_FAILURE(hangup());
    ASSERT_TRUE(wait_until([&] { return listing() == ".metrics\n.status\nrig-a\nrig-b\n"; }, 20s))
        << listing();
    const ReadResult b = read_whole_file(harness_.file("rig-b"));
    ASSERT_EQ(b.error, 0);
    EXPECT_TRUE(fake_.is_valid(token_from_line(b.data).value_or("")));
    EXPECT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    EXPECT_EQ(fake_.calls("rig-a"), calls_a) << "a kept rig with a valid token fetched again";

    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-b", ""}});
    ASSERT_NO_FATAL_FAILURE(hangup());
    ASSERT_TRUE(wait_until([&] { return listing() == ".metrics\n.status\nrig-b\n"; }, 20s))
        << listing();
    EXPECT_EQ(read_whole_file(harness_.file("rig-a")).error, ENOENT);
    EXPECT_EQ(::faccessat(dir_fd, "rig-a", F_OK, 0), 0) << "the removed rig's static file";
    ::close(dir_fd);
    EXPECT_TRUE(harness_.alive());
}

TEST_F(ReloadTest, ABadConfigIsRefusedAndTheRunningOneKeepsServing) {
    harness_.allow_log_line("reload refused, keeping the running config");  // under test
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    std::ofstream(harness_.config_path()) << R"({"source": {"type": "vault"}, "rigs": []})";
    ASSERT_NO_FATAL_FAILURE(hangup());
    ASSERT_TRUE(wait_until(
        [&] { return harness_.log_text().find("reload refused") != std::string::npos; }, 20s));
    EXPECT_NE(harness_.log_text().find("source.type: unknown source type \"vault\""),
              std::string::npos);
    EXPECT_TRUE(harness_.alive());
    EXPECT_EQ(listing(), ".metrics\n.status\nrig-a\n");
    EXPECT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
}

TEST_F(ReloadTest, ChangedSettingsApply) {
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    harness_.write_config(fake_.base_url(), RefreshParams{}, {{"rig-a", "renamed"}});
    ASSERT_NO_FATAL_FAILURE(hangup());
    ASSERT_TRUE(wait_until([&] { return listing() == ".metrics\n.status\nrenamed\n"; }, 20s))
        << listing();
    const ReadResult r = read_whole_file(harness_.file("renamed"));
    ASSERT_EQ(r.error, 0);
    EXPECT_TRUE(fake_.is_valid(token_from_line(r.data).value_or("")));
}

TEST_F(ReloadTest, AReloadLogsTheConfigsWarningsAsStartupDoes) {
    const std::string warning = "source.request_timeout_s >= refresh.read_timeout_s";
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    EXPECT_EQ(harness_.log_text().find(warning), std::string::npos) << "none at startup";
    RefreshParams slow;
    slow.read_timeout_s = 5;  // the harness's source.request_timeout_s is 5
    harness_.write_config(fake_.base_url(), slow, {{"rig-a", ""}});
    ASSERT_NO_FATAL_FAILURE(hangup());
    ASSERT_TRUE(
        wait_until([&] { return harness_.log_text().find("reloaded ") != std::string::npos; }, 20s))
        << harness_.log_text();
    EXPECT_NE(harness_.log_text().find(warning), std::string::npos) << harness_.log_text();
    EXPECT_TRUE(harness_.alive());
}

TEST_F(ReloadTest, AReloadChecksTheFilesTheConfigNames) {
    harness_.allow_log_line("reload refused, keeping the running config");  // under test
    ASSERT_NO_FATAL_FAILURE(start_daemon(RefreshParams{}, {{"rig-a", ""}}));
    ASSERT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
    ASSERT_EQ(::unlink(harness_.jwt_path().c_str()), 0);
    ASSERT_NO_FATAL_FAILURE(hangup());
    ASSERT_TRUE(wait_until(
        [&] { return harness_.log_text().find("reload refused") != std::string::npos; }, 20s));
    EXPECT_NE(harness_.log_text().find("source.container_token_file: cannot read \"" +
                                       harness_.jwt_path() + "\""),
              std::string::npos)
        << harness_.log_text();
    EXPECT_TRUE(harness_.alive());
    EXPECT_EQ(read_whole_file(harness_.file("rig-a")).error, 0);
}

}  // namespace
}  // namespace credfs::itest
