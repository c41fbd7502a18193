// The fake's own contract: the integration tests trust what it reports, so
// its knobs and bookkeeping are checked here with a plain HTTP client.
#include <httplib.h>
#include <json/json.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "fake_gastown.hpp"

namespace credfs::fakes {
namespace {

using namespace std::chrono_literals;

constexpr char kJwt[] = "jwt-under-test";

struct Reply {
    int status = 0;  ///< 0: no HTTP answer at all (connection failed).
    Json::Value body;
};

struct RawReply {
    int status = 0;  ///< 0: no HTTP answer at all (connection failed, timed out).
    std::string body;
    httplib::Headers headers;
};

/// `read_timeout` bounds each recv (cpp-httplib's read timeout), not the
/// whole reply.
RawReply post_raw(int port, const std::string& rig,
                  std::chrono::milliseconds read_timeout = std::chrono::seconds(5),
                  const std::string& jwt = kJwt) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2);
    client.set_read_timeout(read_timeout);
    httplib::Headers headers;
    if (!jwt.empty()) headers.emplace("Authorization", "Bearer " + jwt);
    const auto res = client.Post(("/api/towns/t1/rigs/" + rig + "/refresh-git-token").c_str(),
                                 headers, "{}", "application/json");
    RawReply reply;
    if (!res) return reply;
    reply.status = res->status;
    reply.body = res->body;
    reply.headers = res->headers;
    return reply;
}

Json::Value parse(const std::string& text) {
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value v;
    if (!reader->parse(text.data(), text.data() + text.size(), &v, nullptr)) return {};
    return v;
}

Reply post(int port, const std::string& rig, const std::string& jwt = kJwt) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    httplib::Headers headers;
    if (!jwt.empty()) headers.emplace("Authorization", "Bearer " + jwt);
    const auto res = client.Post(("/api/towns/t1/rigs/" + rig + "/refresh-git-token").c_str(),
                                 headers, "{}", "application/json");
    Reply reply;
    if (!res) return reply;
    reply.status = res->status;
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    reader->parse(res->body.data(), res->body.data() + res->body.size(), &reply.body, nullptr);
    return reply;
}

TEST(FakeGastownTest, IssuesTokensWithIsoExpiryAndTracksThem) {
    FakeGastown fake(kJwt);
    fake.set_ttl(120);
    const Reply r = post(fake.port(), "rig-a");
    ASSERT_EQ(r.status, 200);
    const std::string token = r.body["token"].asString();
    EXPECT_TRUE(std::regex_match(token, std::regex("ghs_[A-Za-z0-9]{36}"))) << token;
    EXPECT_TRUE(std::regex_match(r.body["expires_at"].asString(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    ASSERT_EQ(fake.issued().size(), 1u);
    EXPECT_EQ(r.body["expires_at"].asString(), format_iso8601_ms(fake.issued()[0].expires_at));
    EXPECT_TRUE(fake.is_valid(token));
    EXPECT_FALSE(fake.is_valid("ghs_unknown"));
    EXPECT_EQ(fake.current_token("rig-a").value_or(""), token);
    EXPECT_FALSE(fake.current_token("rig-b").has_value());
    EXPECT_EQ(fake.calls(), 1);
    EXPECT_EQ(fake.calls("rig-a"), 1);
    EXPECT_EQ(fake.authorizations(), std::vector<std::string>{std::string("Bearer ") + kJwt});
}

// Replication lag: a token is valid from its mint but lagged until the lag
// has passed; only recorded tokens are ever lagged, and no lag means never.
TEST(TokenLedgerTest, ATokenIsLaggedForTheReplicationLagAfterItsMint) {
    TokenLedger ledger;
    ledger.set_ttl(10);
    const IssuedToken t = ledger.issue("rig-a", TokenLedger::Precision::Milliseconds);
    const auto at = [&](double s) {
        return t.issued_at +
               std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(s));
    };
    EXPECT_FALSE(ledger.is_lagged(t.token, t.issued_at)) << "lagged with no lag set";

    ledger.set_replication_lag(1.5);
    EXPECT_TRUE(ledger.is_lagged(t.token, t.issued_at));
    EXPECT_TRUE(ledger.is_lagged(t.token, at(1.49)));
    EXPECT_FALSE(ledger.is_lagged(t.token, at(1.5)));
    EXPECT_FALSE(ledger.is_lagged("ghs_unknown", t.issued_at));
    // Lag is not invalidity: the upstream did issue it.
    EXPECT_TRUE(ledger.is_valid(t.token, at(1)));
}

TEST(FakeGastownTest, RejectsAWrongOrMissingJwtWith401) {
    FakeGastown fake(kJwt);
    EXPECT_EQ(post(fake.port(), "rig-a", "other").status, 401);
    const Reply missing = post(fake.port(), "rig-a", "");
    EXPECT_EQ(missing.status, 401);
    EXPECT_TRUE(missing.body.isMember("error"));
    EXPECT_TRUE(fake.issued().empty());
    EXPECT_EQ(fake.calls(), 2);
}

TEST(FakeGastownTest, ShapesAndExpiry) {
    FakeGastown fake(kJwt);
    fake.set_shape(ResponseShape::NestedData);
    EXPECT_TRUE(post(fake.port(), "r").body["data"]["token"].isString());
    fake.set_shape(ResponseShape::EpochSeconds);
    const Reply epoch = post(fake.port(), "r");
    EXPECT_TRUE(epoch.body["expires_at"].isIntegral());
    fake.set_shape(ResponseShape::NoExpiry);
    const Reply none = post(fake.port(), "r");
    EXPECT_TRUE(none.body["token"].isString());
    EXPECT_FALSE(none.body.isMember("expires_at"));

    fake.set_shape(ResponseShape::TopLevel);
    fake.set_ttl(0.05);
    const std::string shortlived = post(fake.port(), "r").body["token"].asString();
    std::this_thread::sleep_for(100ms);  // the token's lifetime, not a wait for a condition
    EXPECT_FALSE(fake.is_valid(shortlived));
}

TEST(FakeGastownTest, ForcedStatusAndReissue) {
    FakeGastown fake(kJwt);
    fake.force_status(503, 2);
    EXPECT_EQ(post(fake.port(), "r").status, 503);
    EXPECT_EQ(post(fake.port(), "r").status, 503);
    const Reply ok = post(fake.port(), "r");
    EXPECT_EQ(ok.status, 200);
    fake.set_reissue_same(true);
    EXPECT_EQ(post(fake.port(), "r").body["token"], ok.body["token"]);
    EXPECT_EQ(fake.issued().size(), 1u);
    fake.set_token_length(100);
    fake.set_reissue_same(false);
    EXPECT_EQ(post(fake.port(), "r").body["token"].asString().size(), 104u);
    fake.force_status(500);
    EXPECT_EQ(post(fake.port(), "r").status, 500);
    EXPECT_EQ(post(fake.port(), "r").status, 500);
    fake.clear_forced_status();
    EXPECT_EQ(post(fake.port(), "r").status, 200);
}

TEST(FakeGastownTest, HoldBlocksUntilRelease) {
    FakeGastown fake(kJwt);
    fake.hold();
    Reply reply;
    std::thread caller([&] { reply = post(fake.port(), "r"); });
    EXPECT_TRUE(fake.wait_for_held(1, SteadyClock::now() + 5s));
    EXPECT_EQ(fake.held(), 1);
    EXPECT_TRUE(fake.issued().empty());
    fake.release();
    caller.join();
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(fake.held(), 0);
}

TEST(FakeGastownTest, StopRefusesConnectionsAndStartReusesThePort) {
    FakeGastown fake(kJwt);
    const int port = fake.port();
    EXPECT_EQ(post(port, "r").status, 200);
    fake.stop();
    EXPECT_FALSE(fake.running());
    EXPECT_EQ(post(port, "r").status, 0) << "still answering after stop()";
    fake.start();
    EXPECT_EQ(fake.port(), port);
    EXPECT_EQ(post(port, "r").status, 200);
    EXPECT_EQ(fake.calls(), 2);
}

TEST(FakeGastownTest, StopAnswersHeldRequests) {
    FakeGastown fake(kJwt);
    fake.hold();
    Reply reply;
    std::thread caller([&] { reply = post(fake.port(), "r"); });
    ASSERT_TRUE(fake.wait_for_held(1, SteadyClock::now() + 5s));
    fake.stop();
    caller.join();
    EXPECT_EQ(reply.status, 503);
}

TEST(FakeGastownTest, ForcedStatusCanCarryRetryAfter) {
    FakeGastown fake(kJwt);
    fake.force_status(503, 1, "7");
    const RawReply r = post_raw(fake.port(), "r");
    EXPECT_EQ(r.status, 503);
    const auto it = r.headers.find("Retry-After");
    ASSERT_NE(it, r.headers.end());
    EXPECT_EQ(it->second, "7");
    const RawReply ok = post_raw(fake.port(), "r");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.headers.count("Retry-After"), 0u);
}

TEST(FakeGastownTest, OddButOkBodies) {
    FakeGastown fake(kJwt);
    fake.set_fault(Fault::HtmlBody, 1);
    RawReply r = post_raw(fake.port(), "r");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.rfind("<!DOCTYPE html>", 0), 0u) << r.body;

    fake.set_fault(Fault::TruncatedJson, 1);
    r = post_raw(fake.port(), "r");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.rfind("{\"", 0), 0u);
    EXPECT_TRUE(parse(r.body).isNull()) << "not truncated: " << r.body.size() << " bytes";

    fake.set_fault(Fault::HugeBody, 1);
    r = post_raw(fake.port(), "r");
    EXPECT_GE(r.body.size(), std::size_t{2} << 20);
    const std::string huge_token = parse(r.body)["token"].asString();
    EXPECT_TRUE(fake.is_valid(huge_token));

    fake.set_fault(Fault::TokenWithNewline, 1);
    EXPECT_NE(parse(post_raw(fake.port(), "r").body)["token"].asString().find('\n'),
              std::string::npos);
    fake.set_fault(Fault::TokenWithSpace, 1);
    EXPECT_NE(parse(post_raw(fake.port(), "r").body)["token"].asString().find(' '),
              std::string::npos);
    EXPECT_EQ(fake.issued().size(), 1u) << "malformed or truncated tokens were recorded";

    fake.set_fault(Fault::ExpiredAtPast, 1);
    const Json::Value past = parse(post_raw(fake.port(), "r").body);
    EXPECT_FALSE(fake.is_valid(past["token"].asString()));
    EXPECT_LT(past["expires_at"].asString(), format_iso8601_ms(WallClock::now()));

    fake.set_fault(Fault::FarFutureExpiry, 1);
    const Json::Value far = parse(post_raw(fake.port(), "r").body);
    EXPECT_GT(far["expires_at"].asString(),
              format_iso8601_ms(WallClock::now() + std::chrono::hours(24 * 3650)));
    EXPECT_EQ(fake.latest("r")->token, far["token"].asString());

    EXPECT_EQ(post_raw(fake.port(), "r").status, 200);  // counts used up
    EXPECT_EQ(fake.faulted(), 7);
}

TEST(FakeGastownTest, RedirectsToTheConfiguredLocation) {
    FakeGastown fake(kJwt);
    fake.set_redirect_location("http://127.0.0.1:9/elsewhere");
    fake.set_fault(Fault::Redirect);
    const RawReply r = post_raw(fake.port(), "r");  // httplib does not follow by default
    EXPECT_EQ(r.status, 302);
    const auto it = r.headers.find("Location");
    ASSERT_NE(it, r.headers.end());
    EXPECT_EQ(it->second, "http://127.0.0.1:9/elsewhere");
    EXPECT_EQ(post_raw(fake.port(), "r").status, 302);  // kAlways
    fake.clear_fault();
    EXPECT_EQ(post_raw(fake.port(), "r").status, 200);
}

TEST(FakeGastownTest, HangNeverAnswersUntilTheFaultIsCleared) {
    FakeGastown fake(kJwt);
    fake.set_fault(Fault::Hang);
    EXPECT_EQ(post_raw(fake.port(), "r", std::chrono::seconds(1)).status, 0)
        << "a hung request was answered";
    EXPECT_EQ(fake.held(), 1) << "the handler must still be blocked";
    RawReply late;
    std::thread caller([&] { late = post_raw(fake.port(), "r", std::chrono::seconds(10)); });
    ASSERT_TRUE(fake.wait_for_held(2, SteadyClock::now() + 5s));
    fake.clear_fault();
    caller.join();
    EXPECT_EQ(late.status, 503);
    EXPECT_EQ(post_raw(fake.port(), "r").status, 200);
}

TEST(FakeGastownTest, TrickleIsSlowerThanAShortTimeoutAndEndsWithTheFault) {
    FakeGastown fake(kJwt);
    fake.set_fault(Fault::Trickle, 1);
    const auto started = SteadyClock::now();
    // The read timeout bounds each recv: it must be well under the trickle's
    // 1 s per byte, or under load every byte arrives just in time and the
    // whole body takes minutes.
    EXPECT_EQ(post_raw(fake.port(), "r", std::chrono::milliseconds(300)).status, 0)
        << "a byte came within 300 ms of the one before";
    // The body is a real token answer, only far too slow to arrive.
    ASSERT_EQ(fake.issued().size(), 1u);
    fake.clear_fault();  // ends the trickle, so the worker is free again
    EXPECT_EQ(post_raw(fake.port(), "r").status, 200);
    EXPECT_LT(SteadyClock::now() - started, 30s);
}

}  // namespace
}  // namespace credfs::fakes
