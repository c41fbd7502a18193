// The git server's own tests, without the daemon: the e2e tests trust it to
// refuse every request without a valid token and to carry whatever git sends
// (gzip-compressed negotiation, chunked pack uploads) to http-backend intact.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "git_world.hpp"

namespace credfs::e2e {
namespace {

// httplib's encoder is not in its public header.
std::string base64(const std::string& in) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned int acc = 0;
    int bits = 0;
    for (const unsigned char c : in) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
        }
    }
    if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
    while (out.size() % 4 != 0) out.push_back('=');
    return out;
}

std::string basic(const std::string& user, const std::string& password) {
    return "Basic " + base64(user + ":" + password);
}

}  // namespace

class GitServer : public GitWorld {
  protected:
    /// A plain credential file with a valid token, and git pointed at it.
    void use_plain_store() {
        const std::string store = base_dir_ + "/plain-credentials";
        std::ofstream(store) << "https://" << kUser << ":" << fetch_token_directly(kRig) << "@"
                             << git_server_->host() << "\n";
        configure_git(store);
    }
};

TEST_F(GitServer, AnswersOnlyValidBasicCredentials) {
    httplib::SSLClient client("127.0.0.1", git_server_->port());
    client.set_ca_cert_path(ca_file_.c_str());
    client.enable_server_certificate_verification(true);
    const std::string path = std::string("/") + kRepo + ".git/info/refs?service=git-upload-pack";
    const std::string token = fetch_token_directly(kRig);

    auto none = client.Get(path.c_str());
    ASSERT_TRUE(none) << httplib::to_string(none.error());
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Basic realm=\"git\"");

    auto bad_token = client.Get(path.c_str(), {{"Authorization", basic(kUser, "ghs_nope")}});
    ASSERT_TRUE(bad_token);
    EXPECT_EQ(bad_token->status, 401);
    auto wrong_user = client.Get(path.c_str(), {{"Authorization", basic("someone", token)}});
    ASSERT_TRUE(wrong_user);
    EXPECT_EQ(wrong_user->status, 401);
    auto garbage = client.Get(path.c_str(), {{"Authorization", "Basic !!!"}});
    ASSERT_TRUE(garbage);
    EXPECT_EQ(garbage->status, 401);

    auto good = client.Get(path.c_str(), {{"Authorization", basic(kUser, token)}});
    ASSERT_TRUE(good);
    EXPECT_EQ(good->status, 200);
    EXPECT_EQ(good->get_header_value("Content-Type"),
              "application/x-git-upload-pack-advertisement");

    fake_.revoke(token);
    auto revoked = client.Get(path.c_str(), {{"Authorization", basic(kUser, token)}});
    ASSERT_TRUE(revoked);
    EXPECT_EQ(revoked->status, 401);

    const auto counts = git_server_->counts();
    EXPECT_EQ(counts.missing, 1);
    EXPECT_EQ(counts.bad_token, 2);
    EXPECT_EQ(counts.wrong_user, 1);
    EXPECT_EQ(counts.malformed, 1);
    EXPECT_EQ(counts.accepted, 1);
}

// A valid token the fake says is not replicated yet is refused like a bad
// one, in GitHub's words, but counted apart; once replicated it opens.
TEST_F(GitServer, RefusesALaggedTokenAndCountsItApart) {
    httplib::SSLClient client("127.0.0.1", git_server_->port());
    client.set_ca_cert_path(ca_file_.c_str());
    client.enable_server_certificate_verification(true);
    const std::string path = std::string("/") + kRepo + ".git/info/refs?service=git-upload-pack";
    // Longer than any test: the token stays lagged until the lag is lifted.
    fake_.set_replication_lag(3600);
    const std::string token = fetch_token_directly(kRig);
    ASSERT_TRUE(fake_.is_valid(token));
    ASSERT_TRUE(fake_.is_lagged(token));

    auto lagged = client.Get(path.c_str(), {{"Authorization", basic(kUser, token)}});
    ASSERT_TRUE(lagged) << httplib::to_string(lagged.error());
    EXPECT_EQ(lagged->status, 401);
    EXPECT_EQ(lagged->get_header_value("WWW-Authenticate"), "Basic realm=\"git\"");
    EXPECT_EQ(lagged->body, "Bad credentials\n");
    // An unknown token is still a bad token, whatever the lag.
    auto unknown = client.Get(path.c_str(), {{"Authorization", basic(kUser, "ghs_nope")}});
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 401);

    fake_.set_replication_lag(0);
    auto replicated = client.Get(path.c_str(), {{"Authorization", basic(kUser, token)}});
    ASSERT_TRUE(replicated);
    EXPECT_EQ(replicated->status, 200);

    const auto counts = git_server_->counts();
    EXPECT_EQ(counts.lagged, 1);
    EXPECT_EQ(counts.bad_token, 1);
    EXPECT_EQ(counts.accepted, 1);
    EXPECT_EQ(counts.refused_with_credentials(), 2);
}

// A pack larger than git's http.postBuffer (1 MiB by default) goes up as a
// chunked POST; a fetch whose negotiation passes 1 KiB goes up gzipped.
TEST_F(GitServer, CarriesChunkedPushesAndGzippedFetches) {
    use_plain_store();
    const auto a = clone_path("a");
    ASSERT_EQ(clone("a").exit_code, 0);
    {
        // Incompressible, so the pack stays above the post buffer.
        std::mt19937 rng(42);
        std::ofstream blob(a + "/big.bin", std::ios::binary);
        for (int i = 0; i < (3 << 20) / 4; ++i) {
            const auto word = rng();
            blob.write(reinterpret_cast<const char*>(&word), sizeof word);
        }
    }
    ASSERT_EQ(git_in(a, {"add", "big.bin"}).exit_code, 0);
    ASSERT_EQ(commit(a, "big").exit_code, 0);
    const auto big_push = push(a, "main");
    ASSERT_EQ(big_push.exit_code, 0) << big_push.describe();
    EXPECT_GT(git_server_->body_counts().chunked, 0);

    // A clone with many commits the server has never seen, newer than
    // anything on the server, makes the client send long lists of "have"s.
    const auto b = clone_path("b");
    ASSERT_EQ(clone("b").exit_code, 0);
    std::string stream;
    const auto base = git_in(b, {"rev-parse", "HEAD"}).out.substr(0, 40);
    for (int i = 0; i < 200; ++i) {
        stream += "commit refs/heads/local\ncommitter e2e <e2e@example.invalid> " +
                  std::to_string(4000000000LL + i) + " +0000\ndata 6\nlocal\n";
        if (i == 0) stream += "from " + base + "\n";
        stream += "\n";
    }
    ASSERT_EQ(git({"-C", b, "fast-import", "--quiet"}, stream).exit_code, 0);
    ASSERT_EQ(commit(a, "after big").exit_code, 0);
    ASSERT_EQ(push(a, "main").exit_code, 0);
    const auto f = fetch(b);
    ASSERT_EQ(f.exit_code, 0) << f.describe();
    EXPECT_GT(git_server_->body_counts().gzip, 0);
    EXPECT_EQ(git_in(b, {"rev-parse", "origin/main"}).out, git_in(a, {"rev-parse", "HEAD"}).out);
    EXPECT_EQ(git_server_->backend_errors(), 0);
}

}  // namespace credfs::e2e
