#include <gtest/gtest.h>

#include <cmath>

#include "credfs/core/credential.hpp"

namespace credfs {
namespace {

TEST(PercentEncode, KeepsUnreservedEncodesTheRest) {
    EXPECT_EQ(percent_encode("ghs_AbC-1.2~z"), "ghs_AbC-1.2~z");
    EXPECT_EQ(percent_encode("a b:c@d/e%f+g"), "a%20b%3Ac%40d%2Fe%25f%2Bg");
    EXPECT_EQ(percent_encode(std::string("\xff\n", 2)), "%FF%0A");
}

TEST(RenderStoreLine, CredentialStoreFormat) {
    RigConfig rig;
    rig.id = "r";
    EXPECT_EQ(render_store_line(rig, "ghs_abc"), "https://x-access-token:ghs_abc@github.com\n");
    rig.username = "bot@corp";
    rig.host = "ghe.example:8443";
    EXPECT_EQ(render_store_line(rig, "p:w/d"), "https://bot%40corp:p%3Aw%2Fd@ghe.example:8443\n");
    rig.protocol = "http";
    EXPECT_EQ(render_store_line(rig, "t"), "http://bot%40corp:t@ghe.example:8443\n");
}

TEST(RenderStoreLine, LongDottedTokensPassThrough) {
    // GitHub's newer installation tokens are ~520 characters with dots.
    std::string token = "ghs_";
    for (int i = 0; i < 50; ++i) token += "abcdefghi.";
    RigConfig rig;
    const std::string line = render_store_line(rig, token);
    EXPECT_EQ(line, "https://x-access-token:" + token + "@github.com\n");
}

TEST(Credential, TtlAndNeverExpires) {
    const WallTime now = WallClock::now();
    Credential c("t", now + std::chrono::seconds(90), now, "x");
    EXPECT_NEAR(c.ttl_at(now), 90.0, 1e-9);
    EXPECT_FALSE(c.never_expires());
    Credential pat("t", WallTime::max(), now, "x");
    EXPECT_TRUE(pat.never_expires());
    EXPECT_TRUE(std::isinf(pat.ttl_at(now)));
}

}  // namespace
}  // namespace credfs
