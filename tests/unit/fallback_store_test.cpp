// FallbackStore on its own (the state record, load and write, which names
// are passthrough files), then the Rig writing through to it and seeding
// from it.
#include <gtest/gtest.h>
#include <json/json.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "credfs/engine/backing_dir.hpp"
#include "credfs/engine/fallback_store.hpp"
#include "credfs/engine/rig.hpp"
#include "credfs/engine/status.hpp"
#include "rig_test_base.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::eventually;
using test::RigTestBase;

TEST(FallbackState, VouchesOnlyForTheTokenItWasWrittenFor) {
    const WallTime expires = *parse_iso8601("2030-01-01T00:00:00Z");
    const std::string state = FallbackStore::render_state(expires, "ghs_secret");
    EXPECT_EQ(state.find("ghs_secret"), std::string::npos);
    EXPECT_EQ(FallbackStore::parse_state(state, "ghs_secret"), expires);
    EXPECT_EQ(FallbackStore::parse_state(state, "ghs_other"), std::nullopt);
    EXPECT_EQ(FallbackStore::parse_state("garbage", "ghs_secret"), std::nullopt);
    EXPECT_EQ(FallbackStore::state_file_name("rig-a"), ".rig-a.credfs-state");
    EXPECT_TRUE(FallbackStore::is_state_file_name(".rig-a.credfs-state"));
    EXPECT_FALSE(FallbackStore::is_state_file_name("rig-a"));
}

TEST(FallbackState, ANonExpiringTokenIsRecordedAsNever) {
    const std::string state = FallbackStore::render_state(WallTime::max(), "ghp_pat");
    EXPECT_EQ(state.rfind("expires_at=never\n", 0), 0u) << state;
    EXPECT_EQ(FallbackStore::token_fingerprint("ghp_pat").size(), 32u);
    EXPECT_NE(FallbackStore::token_fingerprint("ghp_pat"), FallbackStore::token_fingerprint("x"));
}

class FallbackStoreTest : public ::testing::Test {
  protected:
    FallbackStoreTest() { rig_.id = rig_.file = "rig-a"; }
    CredentialPtr credential(const std::string& token, const std::string& content) const {
        return std::make_shared<const Credential>(token, expires_, WallTime{}, content);
    }

    test::TempDir dir_;
    BackingDir backing_{dir_.path()};
    RigConfig rig_;
    const WallTime expires_ = *parse_iso8601("2030-01-01T00:00:00Z");
};

TEST_F(FallbackStoreTest, LoadsWhatItWrote) {
    FallbackStore store(backing_, rig_);
    store.write([&] {
        return credential("ghs_a",
                          "https://x-access-token:ghs_a@github.com\nhttps://u:p@h.example\n");
    });
    EXPECT_TRUE(store.current());
    const FallbackStore::Seed seed = FallbackStore(backing_, rig_).load();
    EXPECT_TRUE(seed.found);
    EXPECT_EQ(seed.token, "ghs_a");
    EXPECT_EQ(seed.expires_at, expires_);
    EXPECT_EQ(seed.other_lines, (std::vector<std::string>{"https://u:p@h.example"}));
    struct stat st {};
    ASSERT_EQ(backing_.stat(".rig-a.credfs-state", st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FallbackStoreTest, SharedWithGitTheFilesOtherLinesWinAndGitsLockIsTaken) {
    backing_.set_shared_with_git(true);
    // git stored a line the credential does not know of yet, and erased one
    // it does: the file, written last by git, is what the other lines are.
    ASSERT_EQ(backing_.write_atomic("rig-a",
                                    "https://x-access-token:ghs_old@github.com\n"
                                    "https://n:p@new.example\n"),
              0);
    FallbackStore store(backing_, rig_);
    store.write([&] {
        return credential("ghs_b",
                          "https://x-access-token:ghs_b@github.com\nhttps://u:p@erased.example\n");
    });
    EXPECT_TRUE(store.current());
    EXPECT_EQ(backing_.read("rig-a").value_or(""),
              "https://x-access-token:ghs_b@github.com\nhttps://n:p@new.example\n");
    // A lock git holds (here for good) makes the write fail, counted, named.
    ASSERT_EQ(backing_.write_atomic("rig-a.lock", "git's\n"), 0);
    store.write([&] { return credential("ghs_c", "https://x-access-token:ghs_c@github.com\n"); });
    EXPECT_FALSE(store.current());
    EXPECT_NE(store.health().error.find("rig-a.lock stayed held"), std::string::npos)
        << store.health().error;
    EXPECT_EQ(backing_.read("rig-a.lock").value_or(""), "git's\n");
}

TEST_F(FallbackStoreTest, LoadsNothingWithoutAFileAndNoExpiryWithoutAMatchingRecord) {
    FallbackStore store(backing_, rig_);
    EXPECT_FALSE(store.load().found);
    ASSERT_EQ(backing_.write_atomic("rig-a", "https://x-access-token:ghs_a@github.com\n"), 0);
    FallbackStore::Seed seed = store.load();
    EXPECT_TRUE(seed.found);
    EXPECT_EQ(seed.token, "ghs_a");
    EXPECT_FALSE(seed.expires_at);  // no record at all
    ASSERT_EQ(backing_.write_atomic(".rig-a.credfs-state",
                                    FallbackStore::render_state(expires_, "ghs_other")),
              0);
    EXPECT_FALSE(store.load().expires_at);  // a record for another token
    ASSERT_EQ(backing_.write_atomic("rig-a", "https://x-access-token:@github.com\n"), 0);
    seed = store.load();
    EXPECT_EQ(seed.token, "");  // an empty password is found but never vouched for
    EXPECT_FALSE(seed.expires_at);
}

// The state record is written without fsync (docs/design.md, "The fallback
// write's fsyncs"): what a power loss can leave of it vouches for nothing.
TEST_F(FallbackStoreTest, AStateRecordEmptiedOrLeftOlderByAPowerLossVouchesForNothing) {
    FallbackStore store(backing_, rig_);
    store.write(
        [&] { return credential("ghs_new", "https://x-access-token:ghs_new@github.com\n"); });
    ASSERT_TRUE(store.load().expires_at);
    ASSERT_EQ(backing_.write_atomic(".rig-a.credfs-state", ""), 0);  // emptied
    EXPECT_EQ(store.load().token, "ghs_new");
    EXPECT_FALSE(store.load().expires_at);
    ASSERT_EQ(backing_.write_atomic(".rig-a.credfs-state",
                                    FallbackStore::render_state(expires_, "ghs_old")),
              0);  // the rename of the new record lost: the previous token's
    EXPECT_FALSE(store.load().expires_at);
}

TEST_F(FallbackStoreTest, AFailedWriteIsCountedUntilOneSucceeds) {
    FallbackStore store(backing_, rig_);
    store.write([] { return CredentialPtr{}; });  // nothing served: nothing written
    EXPECT_FALSE(backing_.read("rig-a"));
    EXPECT_FALSE(backing_.read(".rig-a.credfs-state"));
    std::filesystem::create_directory(dir_.path() + "/rig-a");  // blocks the rename
    const auto cred = credential("ghs_a", "https://x-access-token:ghs_a@github.com\n");
    store.write([&] { return cred; });
    store.write([&] { return cred; });
    EXPECT_FALSE(store.current());
    EXPECT_EQ(store.health().failures, 2u);
    EXPECT_FALSE(store.health().error.empty());
    std::filesystem::remove(dir_.path() + "/rig-a");
    store.write([&] { return cred; });
    EXPECT_TRUE(store.current());
    EXPECT_EQ(store.health().failures, 2u);
    EXPECT_EQ(store.health().error, "");
    EXPECT_EQ(backing_.read("rig-a"), cred->content);
}

TEST_F(FallbackStoreTest, OnlyUnmanagedFilesArePassthrough) {
    ASSERT_EQ(backing_.write_atomic("notes.txt", "kept\n"), 0);
    ASSERT_EQ(backing_.write_atomic("old-rig", "https://x-access-token:t@github.com\n"), 0);
    ASSERT_EQ(backing_.write_atomic(".old-rig.credfs-state", "expires_at=never\n"), 0);
    EXPECT_TRUE(FallbackStore::is_passthrough(backing_, "notes.txt"));
    EXPECT_FALSE(FallbackStore::is_passthrough(backing_, "old-rig"));  // a rig's, even removed
    EXPECT_FALSE(FallbackStore::is_passthrough(backing_, ".old-rig.credfs-state"));
    EXPECT_FALSE(FallbackStore::is_passthrough(backing_, ".rig.credfs-tmp-1-2"));
    EXPECT_FALSE(FallbackStore::is_passthrough(backing_, ""));
}

class RigFallbackTest : public RigTestBase {
  protected:
    test::TempDir dir_;
    BackingDir backing_{dir_.path()};
};

TEST_F(RigFallbackTest, EveryRefreshAndRewriteIsWrittenThrough) {
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    prime(*rig);
    ASSERT_TRUE(eventually(
        [&] { return backing_.read("rig-a") == "https://x-access-token:ghs_tok1@github.com\n"; }));
    rig->apply_rewrite(
        parse_store_rewrite("https://a:b@gitlab.example\n"
                            "https://x-access-token:x@github.com\n",
                            config_));
    EXPECT_EQ(backing_.read("rig-a"),
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
    clock_.advance(55);
    ASSERT_EQ(rig->credential_for_read().error, 0);
    ASSERT_TRUE(eventually([&] {
        return backing_.read("rig-a") ==
               "https://x-access-token:ghs_tok2@github.com\nhttps://a:b@gitlab.example\n";
    }));
    EXPECT_EQ(rig->stats().write_through_failures, 0u);
}

// git approves after every push with the same bytes: writing them through
// again (two fsyncs) only made git hold its lock longer.
TEST_F(RigFallbackTest, AnUnchangedApprovalDoesNotRewriteTheFallbackFile) {
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    prime(*rig);
    const std::string approval =
        "https://x-access-token:x@github.com\nhttps://a:b@gitlab.example\n";
    rig->apply_rewrite(parse_store_rewrite(approval, config_));
    const std::string path = dir_.path() + "/rig-a";
    struct stat first {};
    ASSERT_EQ(::stat(path.c_str(), &first), 0);
    rig->apply_rewrite(parse_store_rewrite(approval, config_));
    struct stat again {};
    ASSERT_EQ(::stat(path.c_str(), &again), 0);
    EXPECT_EQ(again.st_ino, first.st_ino) << "rewritten although nothing changed";
    rig->apply_rewrite(parse_store_rewrite("https://x-access-token:x@github.com\n", config_));
    struct stat changed {};
    ASSERT_EQ(::stat(path.c_str(), &changed), 0);
    EXPECT_NE(changed.st_ino, first.st_ino);
    EXPECT_EQ(backing_.read("rig-a"), "https://x-access-token:ghs_tok1@github.com\n");
}

TEST_F(RigFallbackTest, AWriteThroughFailureIsCountedAndNeverFailsARead) {
    std::filesystem::create_directory(dir_.path() + "/rig-a");  // blocks the rename
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    prime(*rig);
    ASSERT_TRUE(eventually([&] { return rig->stats().write_through_failures >= 1; }));
    EXPECT_FALSE(rig->stats().write_through_error.empty());
    EXPECT_EQ(rig->credential_for_read().error, 0);
    // The mount serves from memory: still ok. In files mode git reads the
    // file, which holds no token: failing, and the status names the file.
    RigSet set;
    set.rigs.push_back(std::shared_ptr<Rig>(std::move(rig)));
    Json::Value mount;
    Json::Value files;
    ASSERT_TRUE(Json::Reader().parse(render_status(set, {"1", clock_.now(), "mount"}, clock_.now()),
                                     mount));
    ASSERT_TRUE(Json::Reader().parse(render_status(set, {"1", clock_.now(), "files"}, clock_.now()),
                                     files));
    EXPECT_EQ(mount["rigs"][0]["state"].asString(), "ok");
    EXPECT_EQ(files["rigs"][0]["state"].asString(), "failing");
    EXPECT_EQ(files["rigs"][0]["last_error"].asString().rfind("cannot write rig-a: ", 0), 0u)
        << files["rigs"][0]["last_error"].asString();
}

TEST_F(RigFallbackTest, SeedsAStillValidTokenAndOtherLinesFromTheFallbackFile) {
    const WallTime expires = clock_.now() + std::chrono::seconds(50);
    ASSERT_EQ(backing_.write_atomic("rig-a",
                                    "https://x-access-token:ghs_seed@github.com\n"
                                    "https://a:b@gitlab.example\n"),
              0);
    ASSERT_EQ(backing_.write_atomic(".rig-a.credfs-state",
                                    FallbackStore::render_state(expires, "ghs_seed")),
              0);
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    rig->seed_from_fallback();
    ASSERT_TRUE(rig->current());
    EXPECT_EQ(rig->current()->token, "ghs_seed");
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_seed@github.com\nhttps://a:b@gitlab.example\n");
    EXPECT_EQ(rig->credential_for_read().credential->token, "ghs_seed");
    EXPECT_EQ(source_.calls(), 0);
    // 50 s token, 20 s margin: renewed 30 s from now, not at startup.
    EXPECT_NEAR(seconds_between(clock_.now(), rig->next_refresh_at()), 30, 1e-6);
}

TEST_F(RigFallbackTest, DoesNotTrustATokenWithoutAMatchingRecord) {
    ASSERT_EQ(backing_.write_atomic("rig-a",
                                    "https://x-access-token:ghs_seed@github.com\n"
                                    "https://a:b@gitlab.example\n"),
              0);
    ASSERT_EQ(backing_.write_atomic(
                  ".rig-a.credfs-state",
                  FallbackStore::render_state(clock_.now() + std::chrono::hours(1), "ghs_x")),
              0);
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    rig->seed_from_fallback();
    EXPECT_FALSE(rig->current());
    prime(*rig);  // kept lines were seeded all the same
    EXPECT_EQ(rig->current()->content,
              "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n");
}

TEST_F(RigFallbackTest, AfterAnEraseTheFallbackFileGetsTheNewTokenNeverTheRejectedOne) {
    refresh_.publish_delay_s = 0;  // no lag window: a young token's erase is a rejection
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    prime(*rig);
    ASSERT_TRUE(eventually([&] { return backing_.read("rig-a").has_value(); }));
    source_.hold();  // the forced refresh waits on the upstream
    rig->apply_rewrite(parse_store_rewrite("https://a:b@gitlab.example\n", config_));
    ASSERT_TRUE(eventually([&] { return rig->refresh_in_flight(); }));
    // The file still holds what was there before git's erase (in files mode
    // git's own rewrite), not the rejected token with the new lines.
    EXPECT_EQ(backing_.read("rig-a").value_or(""), "https://x-access-token:ghs_tok1@github.com\n");
    source_.release();
    ASSERT_TRUE(eventually([&] {
        return backing_.read("rig-a").value_or("") ==
               "https://x-access-token:ghs_tok2@github.com\nhttps://a:b@gitlab.example\n";
    }));
}

TEST_F(RigFallbackTest, AFailedRefreshAfterAnEraseStillWritesTheKeptLines) {
    auto rig = make_rig();
    rig->set_fallback(std::make_unique<FallbackStore>(backing_, config_));
    prime(*rig);
    source_.fail_next(1);
    rig->apply_rewrite(parse_store_rewrite("https://a:b@gitlab.example\n", config_));
    // Nothing better to write than the old token: git may have been wrong.
    ASSERT_TRUE(eventually([&] {
        return backing_.read("rig-a").value_or("") ==
               "https://x-access-token:ghs_tok1@github.com\nhttps://a:b@gitlab.example\n";
    }));
}

}  // namespace
}  // namespace credfs
