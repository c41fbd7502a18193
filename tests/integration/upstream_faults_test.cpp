// Upstream faults (issue #7, item 1): the control plane errs, hangs, trickles,
// answers 200 with something odd, or redirects. For each, on a real mount:
// the daemon neither crashes nor hangs past its timeouts, logs one line that
// names the fault, backs off, keeps serving the still-valid token, gives EIO
// once it has expired, and recovers as soon as the fault clears.
#include <httplib.h>
#include <json/json.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>

#include "mount_fixture.hpp"
#include "serve_loop.hpp"

namespace credfs::itest {
namespace {

using fakes::FakeGastown;
using fakes::Fault;
using fakes::WallClock;

// Tokens live 3.5 s. min_ttl_s above that makes every read stale, so each
// open goes to the (faulty) upstream unless refreshes are backing off.
constexpr double kTtlS = 3.5;
constexpr double kRequestTimeoutS = 1;
constexpr double kReadTimeoutS = 2;
// Generous: the machine is shared. A hang shows up as the deadline passing.
constexpr auto kReadDeadline =
    std::chrono::milliseconds(static_cast<int>(kReadTimeoutS * 1000)) + 8s;
// Upstream calls allowed from the fault's start until the token has expired
// (~3.5 s): two reads, and background retries backing off from 0.3 s to 1 s.
// A daemon retrying without backoff makes hundreds.
constexpr int kMaxCallsWhileFaulty = 15;

RefreshParams fault_refresh() {
    RefreshParams r;
    r.margin_s = 3;  // background refresh at half-life, 1.75 s
    r.min_ttl_s = 5;
    r.jitter_s = 0;
    r.read_timeout_s = kReadTimeoutS;
    r.backoff_initial_s = 0.3;
    r.backoff_max_s = 1;
    return r;
}

/// A second upstream the fake redirects to. It would hand out a token, and
/// records every Authorization header it is sent.
class RedirectTarget {
  public:
    RedirectTarget() {
        // Any method: curl turns a POST into a GET when it follows a 302.
        const auto record = [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lock(mu_);
                authorizations_.push_back(req.get_header_value("Authorization"));
            }
            res.set_content(
                R"({"token":"ghs_fromTheRedirectTarget","expires_at":"2099-01-01T00:00:00Z"})",
                "application/json");
        };
        server_.Get(".*", record);
        server_.Post(".*", record);
        server_.Put(".*", record);
        port_ = server_.bind_to_any_port("127.0.0.1");
        loop_ = fakes::run_bound_server(server_, "redirect-target");
    }
    ~RedirectTarget() {
        server_.stop();
        loop_.join();
    }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(port_) +
               "/api/towns/t1/rigs/rig-a/refresh-git-token";
    }
    std::vector<std::string> authorizations() const {
        std::lock_guard lock(mu_);
        return authorizations_;
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread loop_;
    mutable std::mutex mu_;
    std::vector<std::string> authorizations_;
};

struct FaultCase {
    const char* name;
    std::function<void(FakeGastown&)> apply;
    std::function<void(FakeGastown&)> clear;
    const char* log_regex;         ///< The one line naming the fault.
    const char* extra_regex = "";  ///< Another line the case must log, if any.
    bool reaches_fake = true;      ///< The fake sees (and counts) the requests.
};

void PrintTo(const FaultCase& c, std::ostream* os) { *os << c.name; }

void clear_all(FakeGastown& f) {
    f.clear_forced_status();
    f.clear_fault();
}

FaultCase status(const char* name, int code, const char* retry_after, const char* log_regex,
                 const char* extra = "") {
    return {name, [=](FakeGastown& f) { f.force_status(code, FakeGastown::kAlways, retry_after); },
            clear_all, log_regex, extra};
}

FaultCase fault(const char* log_regex, Fault which) {
    return {fakes::fault_name(which), [=](FakeGastown& f) { f.set_fault(which); }, clear_all,
            log_regex};
}

const FaultCase kCases[] = {
    status("http_500", 500, "", "HTTP 500 from http://127\\.0\\.0\\.1"),
    status("http_502", 502, "", "HTTP 502 from http://127\\.0\\.0\\.1"),
    status("http_503", 503, "", "HTTP 503 from http://127\\.0\\.0\\.1"),
    // Retry-After: 2 beats backoff_max_s (1 s): the next retry waits 2 s.
    status("http_503_retry_after", 503, "2", "HTTP 503 from .*retry after 2 s \\(Retry-After\\)",
           "retry in 2\\.00 s"),
    {"connection_refused", [](FakeGastown& f) { f.stop(); }, [](FakeGastown& f) { f.start(); },
     "Connection refused|Couldn't connect", "", false},
    fault("timed out after [0-9]+ milliseconds with 0 bytes received", Fault::Hang),
    fault("timed out after [0-9]+ milliseconds with [1-9][0-9]* (out of [0-9]+ )?bytes received",
          Fault::Trickle),
    fault("HTTP 200 from .*an HTML page, not JSON", Fault::HtmlBody),
    fault("HTTP 200 from .*malformed or truncated JSON", Fault::TruncatedJson),
    fault("response body over 1 MiB, refused", Fault::HugeBody),
    fault("HTTP 200 from .*token is empty or contains whitespace/control bytes",
          Fault::TokenWithNewline),
    fault("HTTP 200 from .*token is empty or contains whitespace/control bytes",
          Fault::TokenWithSpace),
    fault("HTTP 200 from .*expires_at .* is already past", Fault::ExpiredAtPast),
    fault("HTTP 302 from .*a redirect to http://127\\.0\\.0\\.1:[0-9]+, not followed",
          Fault::Redirect),
};

class UpstreamFaultTest : public MountTest {
  protected:
    /// start_daemon() with the request bounded by kRequestTimeoutS.
    void start_bounded(const RefreshParams& refresh) {
        harness_.write_jwt(kJwt);
        harness_.write_config(fake_.base_url(), refresh, {{"rig-a", ""}});
        Json::Value cfg;
        {
            std::ifstream in(harness_.config_path());
            in >> cfg;
        }
        cfg["source"]["connect_timeout_s"] = kRequestTimeoutS;
        cfg["source"]["request_timeout_s"] = kRequestTimeoutS;
        std::ofstream(harness_.config_path()) << cfg;
        ASSERT_TRUE(harness_.start());
        mounted_once_ = true;
    }

    /// Reads the rig file, giving up (and stopping the daemon, so the read
    /// returns) after kReadDeadline: a hung open fails the test, never hangs it.
    ReadResult read_bounded() {
        auto done = std::make_shared<std::promise<ReadResult>>();
        std::future<ReadResult> result = done->get_future();
        std::thread reader(
            [done, path = harness_.file("rig-a")] { done->set_value(read_whole_file(path)); });
        if (result.wait_for(kReadDeadline) != std::future_status::ready) {
            ADD_FAILURE() << "open+read of the rig file did not return within "
                          << kReadDeadline.count() << " ms";
            harness_.stop();
        }
        reader.join();
        return result.get();
    }

    int failures_logged() const {
        const std::string log = harness_.log_text();
        const std::regex failure("failure [0-9]+ in a row; retry in");
        return static_cast<int>(
            std::distance(std::sregex_iterator(log.begin(), log.end(), failure), {}));
    }

    bool log_has(const char* pattern) const {
        return std::regex_search(harness_.log_text(), std::regex(pattern));
    }
};

class EachUpstreamFault : public UpstreamFaultTest,
                          public ::testing::WithParamInterface<FaultCase> {};

TEST_P(EachUpstreamFault, ServesTheValidTokenBacksOffThenEioThenRecovers) {
    harness_.allow_log_line("open fails with EIO: no unexpired token");  // the EIO under test
    const FaultCase& c = GetParam();
    RedirectTarget target;
    fake_.set_redirect_location(target.url());
    fake_.set_ttl(kTtlS);
    ASSERT_NO_FATAL_FAILURE(start_bounded(fault_refresh()));
    ASSERT_TRUE(wait_for_token("rig-a").has_value());

    c.apply(fake_);
    // What the daemon may hold: the newest token issued before the fault.
    const auto first = fake_.latest("rig-a");
    ASSERT_TRUE(first.has_value());
    const int calls_before = fake_.calls();
    const ReadResult faulty = read_bounded();
    ASSERT_EQ(faulty.error, 0) << "a still-valid token must be served: "
                               << std::strerror(faulty.error);
    EXPECT_EQ(token_from_line(faulty.data).value_or("<no token line>"), first->token);

    ASSERT_TRUE(wait_until([&] { return WallClock::now() > first->expires_at + 100ms; }, 20s));
    const ReadResult expired = read_bounded();
    EXPECT_EQ(expired.error, EIO) << "got "
                                  << (expired.error ? std::strerror(expired.error)
                                                    : "content: " + expired.data);
    ASSERT_TRUE(harness_.alive());
    // The rig logs each failed refresh once; a refused connection never
    // reaches the fake, so those lines are the count the fake cannot see.
    const int calls_while_faulty =
        c.reaches_fake ? fake_.calls() - calls_before : failures_logged();
    EXPECT_GE(calls_while_faulty, 2) << "both reads should have tried the upstream";
    EXPECT_LE(calls_while_faulty, kMaxCallsWhileFaulty) << "no backoff";
    EXPECT_TRUE(log_has(c.log_regex)) << "no log line matching /" << c.log_regex << "/";
    if (*c.extra_regex != '\0') {
        EXPECT_TRUE(log_has(c.extra_regex)) << "no log line matching /" << c.extra_regex << "/";
    }
    const auto redirected = target.authorizations();
    EXPECT_TRUE(redirected.empty())
        << "the redirect was followed: the target got " << redirected.size() << " request(s), "
        << std::count(redirected.begin(), redirected.end(), std::string("Bearer ") + kJwt)
        << " of them with the container JWT";

    c.clear(fake_);
    // A refresh still in flight against the faulty upstream (a hung or
    // trickling request, up to request_timeout_s) may fail the first open;
    // one that starts after the fault cleared must succeed.
    ReadResult recovered;
    int opens = 0;
    EXPECT_TRUE(wait_until(
        [&] {
            ++opens;
            recovered = read_bounded();
            return recovered.error == 0 || !harness_.alive();
        },
        10s, 100ms));
    ASSERT_EQ(recovered.error, 0) << "no open succeeded after the fault cleared (" << opens
                                  << " tried): " << std::strerror(recovered.error);
    EXPECT_LE(opens, 3);
    const auto token = token_from_line(recovered.data);
    ASSERT_TRUE(token.has_value()) << recovered.data.size() << " bytes, not one credential line";
    EXPECT_NE(*token, first->token);
    EXPECT_TRUE(fake_.is_valid(*token));
    const std::string log = harness_.log_text();
    EXPECT_EQ(log.find(first->token), std::string::npos) << "a token in the log";
    EXPECT_EQ(log.find(kJwt), std::string::npos) << "the container JWT in the log";
}

INSTANTIATE_TEST_SUITE_P(UpstreamFaults, EachUpstreamFault, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<FaultCase>& info) {
                             return std::string(info.param.name);
                         });

// An expiry 10 years ahead is a lie for an installation token (they live an
// hour): the token is served, but trusted for at most an hour, with a warning.
TEST_F(UpstreamFaultTest, AFarFutureExpiryIsCappedToAnHour) {
    fake_.set_ttl(kTtlS);
    ASSERT_NO_FATAL_FAILURE(start_bounded(fault_refresh()));
    const auto first = wait_for_token("rig-a");
    ASSERT_TRUE(first.has_value());
    fake_.set_fault(Fault::FarFutureExpiry);
    // The fake has issued the first token before the daemon has taken it in:
    // a read in that window joins the first refresh and gets its short-lived
    // token (seen under ASan). Every later read of that stale token refreshes
    // and meets the fault.
    ReadResult r;
    std::optional<std::string> token;
    std::optional<fakes::IssuedToken> far;
    wait_until(
        [&] {
            r = read_bounded();
            token = token_from_line(r.data);
            far = fake_.latest("rig-a");
            return r.error != 0 || !token || (far && far->token != first->token);
        },
        20s);
    ASSERT_EQ(r.error, 0) << std::strerror(r.error);
    ASSERT_TRUE(token.has_value());
    ASSERT_TRUE(far.has_value());
    EXPECT_EQ(*token, far->token) << "the far-future token was not taken";
    EXPECT_TRUE(log_has("expires .*days ahead.*treating it as expiring at"));

    const ReadResult status = read_whole_file(harness_.mountpoint() + "/.status");
    ASSERT_EQ(status.error, 0);
    Json::Value doc;
    std::istringstream(status.data) >> doc;
    const Json::Value& rig = doc["rigs"][0];
    ASSERT_TRUE(rig.isObject()) << status.data;
    const double left = rig["seconds_left"].asDouble();
    EXPECT_GT(left, 3000) << status.data;
    EXPECT_LE(left, 3600) << "an expiry 10 years ahead was trusted: " << status.data;
}

}  // namespace
}  // namespace credfs::itest
