#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>

#include "credfs/core/http.hpp"
#include "credfs/sources/gastown_source.hpp"
#include "test_support.hpp"

namespace credfs {
namespace {

using test::FakeClock;

double epoch_of(WallTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

TEST(ParseGastownResponse, TopLevelIsoExpiry) {
    FakeClock clock;
    const std::string body = R"({"token": "ghs_abc", "expires_at": "2099-01-01T00:00:00Z"})";
    Token t = parse_gastown_response(body, clock.now());
    EXPECT_EQ(t.value, "ghs_abc");
    ASSERT_TRUE(t.expires_at);
    EXPECT_EQ(format_iso8601(*t.expires_at), "2099-01-01T00:00:00.000Z");
}

TEST(ParseGastownResponse, NestedUnderDataWithEpochExpiry) {
    FakeClock clock;
    Token t = parse_gastown_response(R"({"data": {"token": "ghs_x", "expires_at": 4070908800.5}})",
                                     clock.now());
    EXPECT_EQ(t.value, "ghs_x");
    ASSERT_TRUE(t.expires_at);
    EXPECT_NEAR(epoch_of(*t.expires_at), 4070908800.5, 1e-6);
    Token s = parse_gastown_response(R"({"data": {"token": "ghs_x", "expires_at": "4070908800"}})",
                                     clock.now());
    EXPECT_NEAR(epoch_of(*s.expires_at), 4070908800.0, 1e-6);
}

TEST(ParseGastownResponse, NoExpiryLeavesItEmpty) {
    FakeClock clock;
    Token t = parse_gastown_response(R"({"token": "ghs_x"})", clock.now());
    EXPECT_FALSE(t.expires_at);
}

TEST(ParseGastownResponse, ErrorsNeverContainTheToken) {
    FakeClock clock;
    const std::pair<const char*, const char*> cases[] = {
        {"not json", "response is not a JSON object (malformed or truncated JSON, 8 bytes)"},
        {"[1]", "response is not a JSON object (JSON, but not an object, 3 bytes)"},
        {"", "response is not a JSON object (an empty body, 0 bytes)"},
        {" <html>ghs_secret</html>",
         "response is not a JSON object (an HTML page, not JSON: a proxy or login portal in the "
         "way?, 24 bytes)"},
        {R"({"token": "ghs_secret", "expires_at": "2099-01-)",
         "response is not a JSON object (malformed or truncated JSON, 47 bytes)"},
        {R"({"data": {}})", "response has no token (token or data.token)"},
        {R"({"token": 5})", "response has no token (token or data.token)"},
        {R"({"token": ""})", "response token is empty or contains whitespace/control bytes"},
        {R"({"token": "ghs_a b"})", "response token is empty or contains whitespace/control bytes"},
        {R"({"token": "ghs_a\nb"})",
         "response token is empty or contains whitespace/control bytes"},
        {R"({"token": "ghs_secret", "expires_at": "soon"})",
         "response expires_at is not ISO-8601 or epoch"},
        {R"({"token": "ghs_secret", "expires_at": "2001-01-01T00:00:00Z"})",
         "response expires_at 2001-01-01T00:00:00.000Z is already past"},
        {R"({"token": "ghs_secret", "expires_at": "9999-12-31T23:59:59Z"})",
         "response expires_at is not ISO-8601 or epoch"},
        {R"({"token": "ghs_secret", "expires_at": 1e15})",
         "response expires_at is not ISO-8601 or epoch"},
    };
    for (const auto& [body, message] : cases) {
        try {
            parse_gastown_response(body, clock.now());
            ADD_FAILURE() << "accepted " << body;
        } catch (const SourceError& e) {
            EXPECT_EQ(std::string(e.what()), message) << body;
            EXPECT_EQ(std::string(e.what()).find("ghs_secret"), std::string::npos);
        }
    }
}

class FakeHttp final : public HttpClient {
  public:
    HttpResponse send(const HttpRequest& request) override {
        std::lock_guard lock(mu);
        requests.push_back(request);
        if (on_post) on_post(static_cast<int>(requests.size()));
        if (transport_error) throw HttpError("POST " + request.url + ": Connection refused");
        if (!queued.empty()) {
            HttpResponse next = queued.front();
            queued.pop_front();
            return next;
        }
        return response;
    }
    std::function<void(int)> on_post;  // called with the request's number
    std::deque<HttpResponse> queued;   // answered first, in order
    std::mutex mu;
    std::vector<HttpRequest> requests;
    HttpResponse response{200, R"({"token": "ghs_new", "expires_at": "2099-01-01T00:00:00Z"})"};
    bool transport_error = false;
};

class GastownSourceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        config_.api_url = "http://127.0.0.1:9";
        config_.town_id = "town1";
        config_.container_token_file = dir_ + "/jwt";
        config_.connect_timeout_s = 1.5;
        config_.request_timeout_s = 4;
        write_jwt("eyJfirst.a.b\n");
        rig_.id = "rig-a";
    }
    void write_jwt(const std::string& v) { std::ofstream(config_.container_token_file) << v; }

    test::TempDir tmp_;
    std::string dir_ = tmp_.path();
    SourceConfig config_;
    RigConfig rig_;
    FakeHttp http_;
    FakeClock clock_;
};

TEST_F(GastownSourceTest, PostsToTheRefreshEndpointWithBearerAndTimeouts) {
    GastownSource source(config_, http_, clock_);
    Token t = source.fetch(rig_);
    EXPECT_EQ(t.value, "ghs_new");
    ASSERT_EQ(http_.requests.size(), 1u);
    const HttpRequest& r = http_.requests[0];
    EXPECT_EQ(r.url, "http://127.0.0.1:9/api/towns/town1/rigs/rig-a/refresh-git-token");
    EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer eyJfirst.a.b"),
              r.headers.end());
    EXPECT_DOUBLE_EQ(r.connect_timeout_s, 1.5);
    EXPECT_DOUBLE_EQ(r.timeout_s, 4);
}

TEST_F(GastownSourceTest, RereadsTheContainerTokenOnEveryCall) {
    GastownSource source(config_, http_, clock_);
    source.fetch(rig_);
    write_jwt("eyJsecond.c.d");
    source.fetch(rig_);
    ASSERT_EQ(http_.requests.size(), 2u);
    EXPECT_NE(std::find(http_.requests[1].headers.begin(), http_.requests[1].headers.end(),
                        "Authorization: Bearer eyJsecond.c.d"),
              http_.requests[1].headers.end());
}

TEST_F(GastownSourceTest, ReadsTheContainerTokenFromTheEnvironment) {
    config_.container_token_file.clear();
    config_.container_token_env = "CREDFS_TEST_JWT";
    ::setenv("CREDFS_TEST_JWT", "eyJenv.x.y", 1);
    GastownSource source(config_, http_, clock_);
    source.fetch(rig_);
    ::unsetenv("CREDFS_TEST_JWT");
    EXPECT_NE(std::find(http_.requests[0].headers.begin(), http_.requests[0].headers.end(),
                        "Authorization: Bearer eyJenv.x.y"),
              http_.requests[0].headers.end());
    EXPECT_THROW(source.fetch(rig_), SourceError);  // unset now: a clear error, no request
    EXPECT_EQ(http_.requests.size(), 1u);
}

TEST_F(GastownSourceTest, Non2xxNamesStatusAndRigButNoSecrets) {
    http_.response = {503, R"({"error": "overloaded, token ghs_leaky rejected"})"};
    GastownSource source(config_, http_, clock_);
    try {
        source.fetch(rig_);
        FAIL() << "no error";
    } catch (const SourceError& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.http_status(), 503);
        EXPECT_NE(what.find("rig rig-a"), std::string::npos) << what;
        EXPECT_NE(what.find("HTTP 503"), std::string::npos) << what;
        EXPECT_EQ(what.find("ghs_leaky"), std::string::npos) << what;
        EXPECT_EQ(what.find("eyJfirst"), std::string::npos) << what;
    }
}

TEST_F(GastownSourceTest, TransportErrorsAndBadBodiesAreSourceErrors) {
    GastownSource source(config_, http_, clock_);
    http_.transport_error = true;
    EXPECT_THROW(source.fetch(rig_), SourceError);
    http_.transport_error = false;
    http_.response = {200, "<html>oops</html>"};
    try {
        source.fetch(rig_);
        FAIL() << "no error";
    } catch (const SourceError& e) {
        EXPECT_NE(std::string(e.what()).find("response is not a JSON object (an HTML page"),
                  std::string::npos)
            << e.what();
    }
}

TEST_F(GastownSourceTest, IdsArePercentEncodedInTheUrl) {
    config_.town_id = "town 1";
    GastownSource source(config_, http_, clock_);
    EXPECT_EQ(source.refresh_url("a?b#c"),
              "http://127.0.0.1:9/api/towns/town%201/rigs/a%3Fb%23c/refresh-git-token");
}

TEST_F(GastownSourceTest, AnEchoedContainerTokenIsRedactedEvenWhenOpaque) {
    write_jwt("v1.opaqueSECRET");
    http_.response = {401, R"({"message": "bad token v1.opaqueSECRET for this town"})"};
    GastownSource source(config_, http_, clock_);
    try {
        source.fetch(rig_);
        FAIL() << "no error";
    } catch (const SourceError& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find("opaqueSECRET"), std::string::npos) << what;
        EXPECT_NE(what.find("bad token [REDACTED] for this town"), std::string::npos) << what;
    }
}

TEST_F(GastownSourceTest, A401RereadsTheContainerTokenAndRetriesOnce) {
    http_.queued = {{401, R"({"error": "jwt expired"})"}};
    http_.on_post = [&](int n) {
        if (n == 1) write_jwt("eyJrenewed.c.d");  // another process renews it meanwhile
    };
    GastownSource source(config_, http_, clock_);
    EXPECT_EQ(source.fetch(rig_).value, "ghs_new");
    ASSERT_EQ(http_.requests.size(), 2u);
    EXPECT_NE(std::find(http_.requests[1].headers.begin(), http_.requests[1].headers.end(),
                        "Authorization: Bearer eyJrenewed.c.d"),
              http_.requests[1].headers.end());
}

TEST_F(GastownSourceTest, ASecond401IsReported) {
    http_.response = {401, R"({"error": "bad token"})"};
    GastownSource source(config_, http_, clock_);
    try {
        source.fetch(rig_);
        FAIL() << "no error";
    } catch (const SourceError& e) {
        EXPECT_EQ(e.http_status(), 401);
    }
    EXPECT_EQ(http_.requests.size(), 2u);  // one retry, not a loop
}

TEST_F(GastownSourceTest, TheCaBundleReachesTheRequest) {
    config_.ca_bundle = "/etc/ssl/custom.pem";
    GastownSource source(config_, http_, clock_);
    source.fetch(rig_);
    EXPECT_EQ(http_.requests[0].ca_bundle, "/etc/ssl/custom.pem");
}

TEST_F(GastownSourceTest, RetryAfterOn429And5xxIsHonouredAndCapped) {
    GastownSource source(config_, http_, clock_);
    const auto wait_for = [&](long status, const std::string& retry_after) {
        http_.response = {status, R"({"error": "busy"})", {{"retry-after", retry_after}}};
        try {
            source.fetch(rig_);
        } catch (const SourceError& e) {
            if (e.retry_after_s() > 0) {
                EXPECT_NE(std::string(e.what()).find("(Retry-After)"), std::string::npos)
                    << e.what();
            }
            return e.retry_after_s();
        }
        ADD_FAILURE() << "no error for HTTP " << status;
        return -1.0;
    };
    EXPECT_DOUBLE_EQ(wait_for(503, "7"), 7);
    EXPECT_DOUBLE_EQ(wait_for(429, "2"), 2);
    EXPECT_DOUBLE_EQ(wait_for(500, "99999"), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(wait_for(502, "123456789012345"), kMaxRetryAfterS);
    EXPECT_DOUBLE_EQ(wait_for(503, "soon"), 0);
    EXPECT_DOUBLE_EQ(wait_for(503, "-5"), 0);
    EXPECT_DOUBLE_EQ(wait_for(400, "7"), 0) << "only 429 and 5xx ask to wait";
    // An HTTP-date 30 s from now.
    const std::time_t later = WallClock::to_time_t(clock_.now()) + 30;
    std::tm tm{};
    gmtime_r(&later, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    EXPECT_NEAR(wait_for(503, date), 30, 1) << date;
}

TEST_F(GastownSourceTest, ARedirectIsAnErrorNamingOnlyTheTargetHost) {
    http_.response = {302, "", {{"location", "https://user:pw@evil.example:8443/steal?t=ghs_abc"}}};
    GastownSource source(config_, http_, clock_);
    try {
        source.fetch(rig_);
        FAIL() << "a redirect was taken as a token";
    } catch (const SourceError& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.http_status(), 302);
        EXPECT_NE(what.find("HTTP 302"), std::string::npos) << what;
        EXPECT_NE(what.find("a redirect to https://evil.example:8443, not followed"),
                  std::string::npos)
            << what;
        EXPECT_EQ(what.find("pw"), std::string::npos) << what;
        EXPECT_EQ(what.find("ghs_abc"), std::string::npos) << what;
    }
    EXPECT_EQ(http_.requests.size(), 1u);
    http_.response = {307, "", {{"location", "/login?next=https://x.example/&t=ghs_abc"}}};
    try {
        source.fetch(rig_);
        FAIL() << "a redirect was taken as a token";
    } catch (const SourceError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("a redirect to the relative path /login, not followed"),
                  std::string::npos)
            << what;
        EXPECT_EQ(what.find("ghs_abc"), std::string::npos) << what;
    }
}

TEST_F(GastownSourceTest, AnExpiryPastAnInstallationTokensLifeIsCappedToAnHour) {
    GastownSource source(config_, http_, clock_);
    // 2099: decades ahead of the fake clock.
    Token far = source.fetch(rig_);
    ASSERT_TRUE(far.expires_at);
    EXPECT_DOUBLE_EQ(seconds_between(clock_.now(), *far.expires_at), GastownSource::kMaxTokenLifeS);
    // Within the hour and the skew allowance: trusted as stated.
    const WallTime soon = clock_.now() + std::chrono::seconds(3800);
    http_.response = {200,
                      R"({"token": "ghs_new", "expires_at": ")" + format_iso8601(soon) + "\"}"};
    EXPECT_EQ(source.fetch(rig_).expires_at, soon);
}

TEST_F(GastownSourceTest, TheRetryAfterA401StaysWithinTheRequestTimeout) {
    http_.queued = {{401, R"({"error": "jwt expired"})"}};
    http_.on_post = [&](int n) {
        if (n == 1) clock_.advance(3.5);  // the first answer took 3.5 of the 4 s
    };
    GastownSource source(config_, http_, clock_);
    EXPECT_EQ(source.fetch(rig_).value, "ghs_new");
    ASSERT_EQ(http_.requests.size(), 2u);
    EXPECT_DOUBLE_EQ(http_.requests[0].timeout_s, 4);
    EXPECT_NEAR(http_.requests[1].timeout_s, 0.5, 1e-9);

    // No time left at all: the 401 is reported without a second request.
    http_.requests.clear();
    http_.queued = {{401, R"({"error": "jwt expired"})"}};
    http_.on_post = [&](int n) {
        if (n == 1) clock_.advance(4);
    };
    try {
        source.fetch(rig_);
        FAIL() << "no error";
    } catch (const SourceError& e) {
        EXPECT_EQ(e.http_status(), 401);
        EXPECT_NE(std::string(e.what()).find("no time left"), std::string::npos) << e.what();
    }
    EXPECT_EQ(http_.requests.size(), 1u);
}

TEST(JwtExpiry, DecodesTheExpClaimWithoutVerifying) {
    // {"alg":"none"} . {"sub":"c","exp":1700000000} . sig (base64url, no padding)
    const auto exp = jwt_expiry("eyJhbGciOiJub25lIn0.eyJzdWIiOiJjIiwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln");
    ASSERT_TRUE(exp);
    EXPECT_EQ(format_iso8601(*exp), "2023-11-14T22:13:20.000Z");
    EXPECT_FALSE(jwt_expiry("not-a-jwt"));
    EXPECT_FALSE(jwt_expiry("a.!!!.c"));
    EXPECT_FALSE(jwt_expiry("eyJhbGciOiJub25lIn0.eyJzdWIiOiJjIn0.c2ln"));  // no exp
}

TEST_F(GastownSourceTest, RevokesOnlyWhenOptedInAtGitHubNotTheControlPlane) {
    {
        GastownSource source(config_, http_, clock_);
        EXPECT_FALSE(source.can_revoke()) << "opt-in";
    }
    config_.revoke_superseded = true;
    config_.github_api_url = "https://api.github.example";
    GastownSource source(config_, http_, clock_);
    EXPECT_TRUE(source.can_revoke());
    http_.queued = {{204, "", {}}, {401, "", {}}, {503, "", {{"retry-after", "7"}}}};
    EXPECT_EQ(source.revoke("ghs_old", 100).result, RevokeOutcome::Result::Revoked);
    const HttpRequest& r = http_.requests.at(0);
    EXPECT_EQ(r.method, "DELETE");
    EXPECT_EQ(r.url, "https://api.github.example/installation/token");
    EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer ghs_old"),
              r.headers.end())
        << "the token itself, never the container JWT";
    EXPECT_EQ(r.timeout_s, 4) << "request_timeout_s when the budget is larger";
    EXPECT_EQ(source.revoke("ghs_old", 100).result, RevokeOutcome::Result::AlreadyDead);
    const RevokeOutcome failed = source.revoke("ghs_old", 2);
    EXPECT_EQ(failed.result, RevokeOutcome::Result::Failed);
    EXPECT_EQ(failed.retry_after_s, 7);
    EXPECT_EQ(http_.requests.at(2).timeout_s, 2) << "bounded by the budget";
    http_.transport_error = true;
    EXPECT_EQ(source.revoke("ghs_old", 100).result, RevokeOutcome::Result::Failed);
}

}  // namespace
}  // namespace credfs
