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

}  // namespace
}  // namespace credfs::fakes
