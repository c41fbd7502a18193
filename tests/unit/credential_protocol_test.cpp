#include "credfs/helper/credential_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace credfs {
namespace {

TEST(CredentialProtocol, ParsesGitsAttributesUpToTheBlankLine) {
    const ParsedAttributes p = parse_credential_attributes(
        "protocol=https\nhost=github.com\npath=o/r.git\nusername=x-access-token\n"
        "password=ghs_a=b\npassword_expiry_utc=1700000000\ncapability[]=authtype\n\n"
        "host=ignored.example\n");
    ASSERT_EQ(p.error, "");
    EXPECT_EQ(p.attributes.protocol, "https");
    EXPECT_EQ(p.attributes.host, "github.com");
    EXPECT_EQ(p.attributes.path, "o/r.git");
    EXPECT_EQ(p.attributes.username, "x-access-token");
    EXPECT_EQ(p.attributes.password, "ghs_a=b");  // only the first '=' splits
    EXPECT_EQ(p.attributes.password_expiry_utc, 1700000000);
}

TEST(CredentialProtocol, EofEndsTheAttributesAndCrlfIsAccepted) {
    const ParsedAttributes p = parse_credential_attributes("protocol=https\r\nhost=github.com");
    ASSERT_EQ(p.error, "");
    EXPECT_EQ(p.attributes.protocol, "https");
    EXPECT_EQ(p.attributes.host, "github.com");
    EXPECT_EQ(parse_credential_attributes("").error, "");
}

TEST(CredentialProtocol, UrlIsSplitAsGitDoes) {
    const ParsedAttributes p =
        parse_credential_attributes("url=https://x-access-token:p%40ss@GitHub.com/o/r.git/\n");
    ASSERT_EQ(p.error, "");
    EXPECT_EQ(p.attributes.protocol, "https");
    EXPECT_EQ(p.attributes.host, "GitHub.com");
    EXPECT_EQ(p.attributes.path, "o/r.git");
    EXPECT_EQ(p.attributes.username, "x-access-token");
    EXPECT_EQ(p.attributes.password, "p@ss");
    const ParsedAttributes bare = parse_credential_attributes("url=http://127.0.0.1:8080\n");
    EXPECT_EQ(bare.attributes.host, "127.0.0.1:8080");
    EXPECT_EQ(bare.attributes.path, "");
}

TEST(CredentialProtocol, RefusesMalformedInputWithoutEchoingValues) {
    EXPECT_EQ(parse_credential_attributes("protocol=https\nghs_secret\n").error,
              "line 2 is not key=value");
    EXPECT_EQ(parse_credential_attributes("=ghs_secret\n").error, "line 1 has an empty key");
    EXPECT_EQ(parse_credential_attributes(std::string("password=ghs_\0x\n", 16)).error,
              "request holds a NUL byte");
    EXPECT_EQ(parse_credential_attributes("password_expiry_utc=soon\n").error,
              "line 1: password_expiry_utc is not a number of seconds");
    EXPECT_EQ(parse_credential_attributes("url=ghs_secret\n").error,
              "line 1: url is not a URL (no \"://\")");
    const std::string big = "password=" + std::string(kMaxCredentialInput, 'a') + "\n";
    EXPECT_EQ(parse_credential_attributes(big).error, "request longer than 64 KiB");
    EXPECT_EQ(parse_credential_attributes(std::string(kMaxCredentialInput - 2, 'a') + "=\n").error,
              "");
}

TEST(CredentialProtocol, RendersKnownAttributesInOrderAndOmitsEmptyOnes) {
    CredentialAttributes a;
    a.protocol = "https";
    a.host = "github.com";
    a.username = "x-access-token";
    a.password = "ghs_tok";
    a.password_expiry_utc = 1700000000;
    EXPECT_EQ(render_credential_attributes(a),
              "protocol=https\nhost=github.com\nusername=x-access-token\npassword=ghs_tok\n"
              "password_expiry_utc=1700000000\n");
    a.password_expiry_utc.reset();
    a.username.clear();
    EXPECT_EQ(render_credential_attributes(a),
              "protocol=https\nhost=github.com\npassword=ghs_tok\n");
    // Rendering then parsing gives the same attributes back.
    EXPECT_EQ(parse_credential_attributes(*render_credential_attributes(a)).attributes.password,
              "ghs_tok");
}

TEST(CredentialProtocol, RefusesToRenderAValueThatWouldBreakTheFormat) {
    CredentialAttributes a;
    a.host = "github.com\npassword=forged";
    EXPECT_EQ(render_credential_attributes(a), std::nullopt);
    a.host = std::string("github.com\0x", 12);
    EXPECT_EQ(render_credential_attributes(a), std::nullopt);
}

TEST(CredentialProtocol, HostsCompareCaseInsensitively) {
    EXPECT_TRUE(same_host("GitHub.COM", "github.com"));
    EXPECT_FALSE(same_host("github.com", "github.com.evil"));
    EXPECT_FALSE(same_host("github.com:443", "github.com"));
}

}  // namespace
}  // namespace credfs
