#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "credfs/sources/static_source.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

class StaticSourceTest : public ::testing::Test {
  protected:
    void SetUp() override { rig_.id = "r"; }
    std::string write(const std::string& content) {
        const std::string path = dir_ + "/pat";
        std::ofstream(path) << content;
        return path;
    }
    test::TempDir tmp_;
    std::string dir_ = tmp_.path();
    RigConfig rig_;
};

TEST_F(StaticSourceTest, TrimsAndNeverExpires) {
    StaticSource s(write("  github_pat_11ABC_def\n"));
    Token t = s.fetch(rig_);
    EXPECT_EQ(t.value, "github_pat_11ABC_def");
    EXPECT_FALSE(t.expires_at);
    EXPECT_FALSE(s.tokens_expire());
}

TEST_F(StaticSourceTest, EmptyOrTwoTokensOrMissingIsAnError) {
    EXPECT_THROW(StaticSource(write("\n \n")).fetch(rig_), SourceError);
    EXPECT_THROW(StaticSource(write("ghp_a ghp_b")).fetch(rig_), SourceError);
    EXPECT_THROW(StaticSource(dir_ + "/missing").fetch(rig_), SourceError);
}

}  // namespace
}  // namespace credfs
