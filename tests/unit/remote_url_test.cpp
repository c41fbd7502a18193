// Remote URLs that embed a token: found, masked, and the clean URL to set.
#include "credfs/cli/remote_url.hpp"

#include <gtest/gtest.h>

namespace credfs {
namespace {

TEST(RemoteUrl, UserAndTokenAreFoundAndMasked) {
    const auto c = find_embedded_credential("https://x-access-token:ghs_abc@github.com/o/r.git");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->masked, "https://x-access-token:***@github.com/o/r.git");
    EXPECT_EQ(c->clean, "https://github.com/o/r.git");
    EXPECT_EQ(c->masked.find("ghs_abc"), std::string::npos);
}

TEST(RemoteUrl, TokenAsUserNameIsFoundAndMasked) {
    const auto c = find_embedded_credential("https://ghp_x@github.com/o/r");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->masked, "https://***@github.com/o/r");
    EXPECT_EQ(c->clean, "https://github.com/o/r");
}

TEST(RemoteUrl, TokenShapedUserBeforeAPasswordIsMaskedToo) {
    const auto c = find_embedded_credential("https://ghp_abc:x-oauth-basic@example.com:8443/o/r");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->masked, "https://***:***@example.com:8443/o/r");
    EXPECT_EQ(c->clean, "https://example.com:8443/o/r");
}

TEST(RemoteUrl, LongOpaqueUserNameCountsAsAToken) {
    const auto c = find_embedded_credential("http://0123456789abcdefABCDEF0123@host/o/r.git");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->masked, "http://***@host/o/r.git");
}

TEST(RemoteUrl, CleanUrlsAreNotFlagged) {
    EXPECT_FALSE(find_embedded_credential("git@github.com:o/r.git"));
    EXPECT_FALSE(find_embedded_credential("https://github.com/o/r"));
    EXPECT_FALSE(find_embedded_credential("https://github.com/o/r@v1"));  // '@' in the path
    EXPECT_FALSE(find_embedded_credential("https://alice@github.com/o/r"));
    EXPECT_FALSE(find_embedded_credential("https://x-access-token@github.com/o/r"));
    EXPECT_FALSE(find_embedded_credential("https://user:@github.com/o/r"));
    EXPECT_FALSE(find_embedded_credential("ssh://git:secret@github.com/o/r"));  // not HTTP
    EXPECT_FALSE(find_embedded_credential("/srv/git/r.git"));
}

TEST(RemoteUrl, SchemeIsCaseInsensitive) {
    const auto c = find_embedded_credential("HTTPS://u:pw@github.com/o/r");
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->masked, "HTTPS://u:***@github.com/o/r");
}

TEST(RemoteUrl, LooksLikeToken) {
    EXPECT_TRUE(looks_like_token("ghs_a"));
    EXPECT_TRUE(looks_like_token("github_pat_11AB"));
    EXPECT_TRUE(looks_like_token("abcdefghij0123456789"));
    EXPECT_FALSE(looks_like_token("alice"));
    EXPECT_FALSE(looks_like_token("x-access-token"));
}

}  // namespace
}  // namespace credfs
