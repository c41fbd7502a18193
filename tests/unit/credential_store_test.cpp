#include <gtest/gtest.h>

#include "credfs/core/credential_store.hpp"

namespace credfs {
namespace {

RigConfig rig() {
    RigConfig r;
    r.id = r.file = "rig-a";
    return r;
}

TEST(ParseStoreLine, SplitsProtocolUserAndHost) {
    auto k = parse_store_line("https://x-access-token:ghs_abc@github.com");
    ASSERT_TRUE(k);
    EXPECT_EQ(k->protocol, "https");
    EXPECT_EQ(k->username, "x-access-token");
    EXPECT_EQ(k->host, "github.com");
    auto p = parse_store_line("https://bot%40corp:p%3Aw@ghe.example:8443/org/repo.git");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->username, "bot@corp");
    EXPECT_EQ(p->host, "ghe.example:8443");
    // git 2.39 percent-encodes the host's colon when it stores a line.
    auto port = parse_store_line("https://x-access-token:t@127.0.0.1%3a4300");
    ASSERT_TRUE(port);
    EXPECT_EQ(port->host, "127.0.0.1:4300");
    EXPECT_FALSE(parse_store_line("not a url"));
    EXPECT_FALSE(parse_store_line("https://"));
}

TEST(PercentDecode, DecodesAndKeepsMalformedEscapes) {
    EXPECT_EQ(percent_decode("a%20b%2Fc"), "a b/c");
    EXPECT_EQ(percent_decode("100%"), "100%");
    EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
}

TEST(ParseStoreRewrite, StoreKeepsTheManagedLineAndOtherHostsInOrder) {
    // git's `store` writes the credential it used first, then the other lines.
    const auto r = parse_store_rewrite(
        "https://x-access-token:ghs_OLD@github.com\n"
        "https://alice:pw@gitlab.example\n"
        "https://other-user:pw@github.com\n",
        rig());
    EXPECT_TRUE(r.has_managed_line);
    EXPECT_EQ(r.other_lines, (std::vector<std::string>{"https://alice:pw@gitlab.example",
                                                       "https://other-user:pw@github.com"}));
}

TEST(ParseStoreRewrite, EraseDropsTheManagedLine) {
    const auto r = parse_store_rewrite("https://alice:pw@gitlab.example\r\n\n  \n", rig());
    EXPECT_FALSE(r.has_managed_line);
    EXPECT_EQ(r.other_lines, (std::vector<std::string>{"https://alice:pw@gitlab.example"}));
    EXPECT_FALSE(parse_store_rewrite("", rig()).has_managed_line);
}

TEST(ParseStoreRewrite, MatchesHostAndProtocolCaseInsensitively) {
    EXPECT_TRUE(
        parse_store_rewrite("HTTPS://x-access-token:t@GitHub.com\n", rig()).has_managed_line);
    EXPECT_FALSE(
        parse_store_rewrite("http://x-access-token:t@github.com\n", rig()).has_managed_line);
    EXPECT_FALSE(
        parse_store_rewrite("https://X-Access-Token:t@github.com\n", rig()).has_managed_line);
}

TEST(ParseStoreRewrite, UnparsableLinesAreKeptNotLost) {
    const auto r = parse_store_rewrite("garbage line\nhttps://x-access-token:t@github.com", rig());
    EXPECT_TRUE(r.has_managed_line);
    EXPECT_EQ(r.other_lines, (std::vector<std::string>{"garbage line"}));
}

}  // namespace
}  // namespace credfs
