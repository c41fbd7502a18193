#include <gtest/gtest.h>
#include <json/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "credfs/sources/github_app_source.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

std::string b64url_decode(std::string s) {
    for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (s.size() % 4 != 0) s.push_back('=');
    std::string out(s.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
    out.resize(static_cast<size_t>(std::max(n, 0)));
    while (!out.empty() && out.back() == '\0') out.pop_back();  // decoder pads with zeros
    return out;
}

/// Verifies an RS256 JWT with `key`'s public half; returns its claims.
std::optional<Json::Value> verify(const std::string& jwt, EVP_PKEY* key) {
    const size_t a = jwt.find('.'), b = jwt.rfind('.');
    if (a == std::string::npos || a == b) return std::nullopt;
    std::string sig = jwt.substr(b + 1);
    for (char& c : sig) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (sig.size() % 4 != 0) sig.push_back('=');
    std::string raw(sig.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                            reinterpret_cast<const unsigned char*>(sig.data()),
                            static_cast<int>(sig.size()));
    n -= static_cast<int>(std::count(sig.end() - 2, sig.end(), '='));
    raw.resize(static_cast<size_t>(n));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const std::string input = jwt.substr(0, b);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
        return std::nullopt;
    }
    Json::Value claims;
    Json::Reader().parse(b64url_decode(jwt.substr(a + 1, b - a - 1)), claims);
    return claims;
}

/// A GitHub API stand-in: checks what GitHub checks, answers what it answers.
class FakeGitHub final : public HttpClient {
  public:
    FakeGitHub(EVP_PKEY* key, const test::FakeClock& clock) : key_(key), clock_(clock) {}
    HttpResponse send(const HttpRequest& r) override {
        std::lock_guard lock(mu);
        requests.push_back(r);
        if (r.method == "GET") {
            const auto it = discovery.find(r.url);
            if (it == discovery.end()) return {404, R"({"message": "Not Found"})", rate_headers};
            return {200, R"({"id": )" + it->second + R"(, "app_id": 12345})", rate_headers};
        }
        if (!installations.empty()) {
            bool known = false;
            for (const auto& id : installations) {
                known = known || r.url.find("/installations/" + id + "/") != std::string::npos;
            }
            if (!known) return {404, R"({"message": "Not Found"})", rate_headers};
        }
        if (!queued.empty()) {
            HttpResponse next = queued.front();
            queued.pop_front();
            return next;
        }
        std::string jwt;
        for (const auto& h : r.headers) {
            if (h.rfind("Authorization: Bearer ", 0) == 0) jwt = h.substr(22);
        }
        const auto claims = verify(jwt, key_);
        if (!claims) return {401, R"({"message": "A JSON web token could not be decoded"})"};
        const double now = seconds_of(clock_.now()) + server_ahead_s;
        if ((*claims)["iat"].asDouble() > now + 1) {
            return {
                401,
                R"({"message": "'Issued at' claim ('iat') must be an Integer representing a time in the past"})",
                {{"date", http_date(now)}}};
        }
        ++minted;
        Json::Value out;
        out["token"] = "ghs_minted" + std::to_string(minted);
        out["expires_at"] = format_iso8601(clock_.now() + std::chrono::hours(1));
        return {201, Json::writeString(Json::StreamWriterBuilder(), out), rate_headers};
    }
    static double seconds_of(WallTime t) {
        return std::chrono::duration<double>(t.time_since_epoch()).count();
    }
    static std::string http_date(double epoch) {
        const time_t t = static_cast<time_t>(epoch);
        struct tm tm {};
        gmtime_r(&t, &tm);
        char buf[64];
        std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        return buf;
    }
    std::mutex mu;
    std::vector<HttpRequest> requests;
    std::deque<HttpResponse> queued;
    double server_ahead_s = 0;
    int minted = 0;
    std::map<std::string, std::string> discovery;  // GET url -> installation id
    std::set<std::string> installations;           // empty: any id mints
    std::map<std::string, std::string> rate_headers;

  private:
    EVP_PKEY* key_;
    const test::FakeClock& clock_;
};

class GitHubAppSourceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        key_file_ = dir_.path() + "/app.pem";
        const std::string cmd =
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + key_file_ +
            " 2>/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0);
        key_ = load_private_key(key_file_);
        config_.type = SourceConfig::Type::GitHubApp;
        config_.app_id = "12345";
        config_.installation_id = "777";
        config_.api_url = "https://api.github.example";
        config_.private_key_file = key_file_;
        rig_.id = rig_.file = "rig-a";
    }
    std::string error_of(GitHubAppSource& s) {
        try {
            s.fetch(rig_);
        } catch (const SourceError& e) {
            last_retry_after_ = e.retry_after_s();
            return e.what();
        }
        return "(no error)";
    }
    test::TempDir dir_;
    test::FakeClock clock_{WallClock::now()};
    std::string key_file_;
    std::shared_ptr<EVP_PKEY> key_;
    SourceConfig config_;
    RigConfig rig_;
    double last_retry_after_ = 0;
};

TEST_F(GitHubAppSourceTest, SignsAJwtGitHubAcceptsAndSendsTheApiHeaders) {
    FakeGitHub gh(key_.get(), clock_);
    GitHubAppSource source(config_, gh, clock_);
    const Token t = source.fetch(rig_);
    EXPECT_EQ(t.value, "ghs_minted1");
    ASSERT_TRUE(t.expires_at);
    const HttpRequest& r = gh.requests.at(0);
    EXPECT_EQ(r.url, "https://api.github.example/app/installations/777/access_tokens");
    auto has = [&](const std::string& h) {
        return std::find(r.headers.begin(), r.headers.end(), h) != r.headers.end();
    };
    EXPECT_TRUE(has("Accept: application/vnd.github+json"));
    EXPECT_TRUE(has("X-GitHub-Api-Version: 2022-11-28"));
    std::string jwt = r.headers.front().substr(22);
    const auto claims = verify(jwt, key_.get());
    ASSERT_TRUE(claims);
    const double now = FakeGitHub::seconds_of(clock_.now());
    EXPECT_NEAR((*claims)["iat"].asDouble(), now - 60, 1.5);
    EXPECT_NEAR((*claims)["exp"].asDouble(), now + 540, 1.5);
    EXPECT_EQ((*claims)["iss"].asString(), "12345");
    EXPECT_EQ(r.body, "{}");
}

TEST_F(GitHubAppSourceTest, ScopesTheTokenAndSharesItBetweenRigsOfOneScope) {
    FakeGitHub gh(key_.get(), clock_);
    GitHubAppSource source(config_, gh, clock_);
    rig_.repositories = {"repo-a"};
    rig_.permissions = {{"contents", "write"}};
    const Token a = source.fetch(rig_);
    EXPECT_EQ(gh.requests.at(0).body,
              R"({"permissions":{"contents":"write"},"repositories":["repo-a"]})");
    RigConfig other = rig_;
    other.id = other.file = "rig-b";
    EXPECT_EQ(source.fetch(other).value, a.value);  // same scope: shared, no request
    EXPECT_EQ(gh.requests.size(), 1u);
    clock_.advance(3000);  // past half its life: the next refresh mints anew
    EXPECT_NE(source.fetch(rig_).value, a.value);
    other.repositories = {"repo-b"};
    source.fetch(other);  // another scope, another token
    EXPECT_EQ(gh.minted, 3);
}

TEST_F(GitHubAppSourceTest, CorrectsForAServerClockAhead) {
    FakeGitHub gh(key_.get(), clock_);
    gh.server_ahead_s = -600;  // our clock runs 10 minutes fast: iat is "in the future"
    GitHubAppSource source(config_, gh, clock_);
    EXPECT_EQ(source.fetch(rig_).value, "ghs_minted1");
    EXPECT_EQ(gh.requests.size(), 2u);  // refused once, then corrected
    EXPECT_NEAR(source.clock_skew_s(), -600, 2);
}

TEST_F(GitHubAppSourceTest, MapsErrorsToTheirCauses) {
    FakeGitHub gh(key_.get(), clock_);
    GitHubAppSource source(config_, gh, clock_);
    gh.queued = {{401, R"({"message": "Bad credentials"})", {}}};
    EXPECT_NE(error_of(source).find("check this machine's clock and source.app_id"),
              std::string::npos);
    gh.queued = {{404, R"({"message": "Not Found"})", {}}};
    EXPECT_NE(error_of(source).find("installation suspended, removed or not this app's"),
              std::string::npos);
    gh.queued = {
        {422, R"({"message": "There is at least one repository that does not exist"})", {}}};
    EXPECT_NE(error_of(source).find("refused the scope"), std::string::npos);
    gh.queued = {
        {403,
         R"({"message": "API rate limit exceeded"})",
         {{"x-ratelimit-remaining", "0"},
          {"x-ratelimit-reset",
           std::to_string(static_cast<long>(FakeGitHub::seconds_of(clock_.now())) + 120)}}}};
    EXPECT_NE(error_of(source).find("rate limited"), std::string::npos);
    EXPECT_NEAR(last_retry_after_, 120, 2);
    gh.queued = {{429, "{}", {{"retry-after", "30"}}}};
    error_of(source);
    EXPECT_DOUBLE_EQ(last_retry_after_, 30);
}

TEST_F(GitHubAppSourceTest, RefusesAKeyThatIsNotPem) {
    const std::string bad = dir_.path() + "/bad.pem";
    std::FILE* f = std::fopen(bad.c_str(), "w");
    std::fputs("not a key\n", f);
    std::fclose(f);
    EXPECT_THROW(load_private_key(bad), SourceError);
    // PKCS#1 ("RSA PRIVATE KEY") loads as well as PKCS#8.
    const std::string pkcs1 = dir_.path() + "/pkcs1.pem";
    const std::string cmd = "openssl pkey -in " + key_file_ + " -traditional -out " + pkcs1;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_NO_THROW(load_private_key(pkcs1));
}

TEST_F(GitHubAppSourceTest, RateLimitHeadersOfEveryResponseAreKept) {
    FakeGitHub gh(key_.get(), clock_);
    GitHubAppSource source(config_, gh, clock_);
    EXPECT_FALSE(source.rate_limit());
    gh.rate_headers = {{"x-ratelimit-limit", "5000"},
                       {"x-ratelimit-remaining", "4990"},
                       {"x-ratelimit-reset", "1800000000"}};
    source.fetch(rig_);
    ASSERT_TRUE(source.rate_limit());
    EXPECT_EQ(source.rate_limit()->installation, "777");
    EXPECT_EQ(source.rate_limit()->remaining, 4990);
    EXPECT_EQ(source.rate_limit()->limit, 5000);
    // An error answer reports it too.
    gh.queued = {{403,
                  R"({"message": "API rate limit exceeded"})",
                  {{"x-ratelimit-limit", "5000"},
                   {"x-ratelimit-remaining", "0"},
                   {"x-ratelimit-reset", "1800000000"}}}};
    clock_.advance(3000);  // past half the shared token's life: mints again
    EXPECT_NE(error_of(source).find("rate limited"), std::string::npos);
    EXPECT_EQ(source.rate_limit()->remaining, 0);
}

TEST_F(GitHubAppSourceTest, DiscoversTheInstallationOfARepositoryOnceThenMints) {
    FakeGitHub gh(key_.get(), clock_);
    gh.discovery["https://api.github.example/repos/acme/widgets/installation"] = "4242";
    config_.installation_id.clear();
    config_.installation_repository = "acme/widgets";
    GitHubAppSource source(config_, gh, clock_);
    EXPECT_EQ(source.installation_id(), "");
    EXPECT_EQ(source.fetch(rig_).value, "ghs_minted1");
    ASSERT_EQ(gh.requests.size(), 2u);
    const HttpRequest& get = gh.requests.at(0);
    EXPECT_EQ(get.method, "GET");
    EXPECT_EQ(get.url, "https://api.github.example/repos/acme/widgets/installation");
    EXPECT_TRUE(verify(get.headers.at(0).substr(22), key_.get())) << "signed with the App's key";
    EXPECT_NE(std::find(get.headers.begin(), get.headers.end(), "X-GitHub-Api-Version: 2022-11-28"),
              get.headers.end());
    EXPECT_EQ(gh.requests.at(1).url,
              "https://api.github.example/app/installations/4242/access_tokens");
    EXPECT_EQ(source.installation_id(), "4242");
    clock_.advance(3000);
    source.fetch(rig_);
    EXPECT_EQ(gh.requests.size(), 3u) << "the id is cached: no second discovery";
}

TEST_F(GitHubAppSourceTest, DiscoversTheInstallationOfAnOrganization) {
    FakeGitHub gh(key_.get(), clock_);
    gh.discovery["https://api.github.example/orgs/acme/installation"] = "99";
    config_.installation_id.clear();
    config_.installation_org = "acme";
    GitHubAppSource source(config_, gh, clock_);
    source.fetch(rig_);
    ASSERT_EQ(gh.requests.size(), 2u);
    EXPECT_EQ(gh.requests.at(0).url, "https://api.github.example/orgs/acme/installation");
    EXPECT_EQ(gh.requests.at(1).url,
              "https://api.github.example/app/installations/99/access_tokens");
}

TEST_F(GitHubAppSourceTest, A404AtMintDiscoversOnceMoreAndMintsForTheNewId) {
    FakeGitHub gh(key_.get(), clock_);
    const std::string url = "https://api.github.example/repos/acme/widgets/installation";
    gh.discovery[url] = "1";
    config_.installation_id.clear();
    config_.installation_repository = "acme/widgets";
    GitHubAppSource source(config_, gh, clock_);
    source.fetch(rig_);
    // The App is reinstalled: id 1 is gone, the repository is now id 2.
    gh.installations = {"2"};
    gh.discovery[url] = "2";
    clock_.advance(3000);
    EXPECT_EQ(source.fetch(rig_).value, "ghs_minted2");
    EXPECT_EQ(source.installation_id(), "2");
    std::vector<std::string> urls;
    for (const auto& r : gh.requests) urls.push_back(r.url);
    EXPECT_EQ(urls, (std::vector<std::string>{
                        url, "https://api.github.example/app/installations/1/access_tokens",
                        "https://api.github.example/app/installations/1/access_tokens", url,
                        "https://api.github.example/app/installations/2/access_tokens"}));
}

TEST_F(GitHubAppSourceTest, A404AfterTheRediscoveryFailsWithACauseNamingTheRepository) {
    FakeGitHub gh(key_.get(), clock_);
    gh.discovery["https://api.github.example/repos/acme/widgets/installation"] = "5";
    gh.installations = {"6"};  // the discovered id cannot mint
    config_.installation_id.clear();
    config_.installation_repository = "acme/widgets";
    GitHubAppSource source(config_, gh, clock_);
    const std::string e = error_of(source);
    EXPECT_NE(e.find("rig rig-a: GitHub App installation 5 (repository acme/widgets): HTTP 404"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("also just after discovering it again"), std::string::npos) << e;
    EXPECT_EQ(gh.requests.size(), 4u) << "one discovery, one mint, one more of each; no loop";
}

TEST_F(GitHubAppSourceTest, AFailedDiscoveryIsOneErrorNamingTheRepository) {
    FakeGitHub gh(key_.get(), clock_);
    config_.installation_id.clear();
    config_.installation_repository = "acme/nothing";
    GitHubAppSource source(config_, gh, clock_);
    const std::string e = error_of(source);
    EXPECT_NE(e.find("rig rig-a: GitHub App: cannot find its installation for repository "
                     "acme/nothing: HTTP 404: the App is not installed there"),
              std::string::npos)
        << e;
    EXPECT_EQ(gh.requests.size(), 1u);
}

TEST_F(GitHubAppSourceTest, AConfiguredIdIsNeverDiscovered) {
    FakeGitHub gh(key_.get(), clock_);
    gh.installations = {"1"};
    GitHubAppSource source(config_, gh, clock_);  // installation 777
    EXPECT_NE(error_of(source).find("installation suspended"), std::string::npos);
    EXPECT_EQ(gh.requests.size(), 1u);
}

TEST_F(GitHubAppSourceTest, RevokesWithTheTokenItselfAndReadsTheAnswer) {
    FakeGitHub gh(key_.get(), clock_);
    GitHubAppSource source(config_, gh, clock_);
    EXPECT_FALSE(source.can_revoke()) << "SourceConfig's default; the parser sets true";
    gh.queued = {{204, "", {}},
                 {401, R"({"message": "Bad credentials"})", {}},
                 {500, R"({"message": "boom ghs_secret"})", {}}};
    EXPECT_EQ(source.revoke("ghs_secret", 3).result, RevokeOutcome::Result::Revoked);
    const HttpRequest& r = gh.requests.at(0);
    EXPECT_EQ(r.method, "DELETE");
    EXPECT_EQ(r.url, "https://api.github.example/installation/token");
    EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer ghs_secret"),
              r.headers.end());
    EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Accept: application/vnd.github+json"),
              r.headers.end());
    EXPECT_LE(r.timeout_s, 3);
    EXPECT_EQ(source.revoke("ghs_secret", 3).result, RevokeOutcome::Result::AlreadyDead);
    const RevokeOutcome failed = source.revoke("ghs_secret", 3);
    EXPECT_EQ(failed.result, RevokeOutcome::Result::Failed);
    EXPECT_NE(failed.error.find("HTTP 500"), std::string::npos) << failed.error;
    EXPECT_EQ(failed.error.find("ghs_secret"), std::string::npos) << "never the token";
}

}  // namespace
}  // namespace credfs
