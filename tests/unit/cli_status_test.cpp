// The status command's table and exit status, from canned .status documents.
#include "credfs/cli/cli_status.hpp"

#include <gtest/gtest.h>

#include <string>

namespace credfs {
namespace {

const WallTime kNow = *parse_iso8601("2026-12-01T12:00:00Z");

std::string rig_json(const std::string& file, const std::string& state,
                     const std::string& expires_at, const std::string& last_refresh_at,
                     const std::string& last_error = "") {
    return R"({"file": ")" + file + R"(", "id": ")" + file +
           R"(", "source": "gastown", "state": ")" + state + R"(", "expires_at": )" + expires_at +
           R"(, "seconds_left": null,
      "last_refresh_at": )" +
           last_refresh_at + R"(, "next_refresh_at": null, "last_error": ")" + last_error +
           R"(", "refreshes": 1, "failures": 0, "consecutive_failures": 0,
      "on_demand_waits": 0, "rejections": 0,
      "write_through": {"ok": true, "failures": 0, "error": ""}})";
}

std::string doc(const std::string& rigs) {
    return R"({"version": "0.1.0", "uptime_s": 3725, "rigs": [)" + rigs + "]}\n";
}

/// The table row whose first column is `file`.
std::string row(const std::string& text, const std::string& file) {
    size_t pos = 0;
    while ((pos = text.find('\n' + file + ' ', pos)) != std::string::npos) {
        const size_t start = pos + 1;
        return text.substr(start, text.find('\n', start) - start);
    }
    return "";
}

TEST(FormatDuration, PicksTwoUnits) {
    EXPECT_EQ(format_duration(0), "0s");
    EXPECT_EQ(format_duration(59.9), "59s");
    EXPECT_EQ(format_duration(3130), "52m 10s");
    EXPECT_EQ(format_duration(3600 + 5 * 60 + 7), "1h 05m");
    EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600), "3d 04h");
    EXPECT_EQ(format_duration(-5), "0s");
}

TEST(StatusTable, HealthyRigsExitZero) {
    const StatusTable t = render_status_table(
        doc(rig_json("rig-a", "ok", R"("2026-12-01T12:52:10.000Z")",
                     R"("2026-12-01T11:55:48.000Z")") +
            "," + rig_json("b", "stale", R"("2026-12-01T12:03:00Z")", R"("2026-12-01T11:00:00Z")")),
        kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_EQ(t.exit_code, kStatusHealthy);
    EXPECT_EQ(t.unhealthy_rigs, 0);
    EXPECT_EQ(t.text.substr(0, t.text.find('\n')), "gastown-credfs 0.1.0, up 1h 02m, 2 rig(s)");
    EXPECT_NE(t.text.find("RIG"), std::string::npos);
    EXPECT_NE(t.text.find("EXPIRES IN"), std::string::npos);
    const std::string a = row(t.text, "rig-a");
    EXPECT_NE(a.find("ok"), std::string::npos) << t.text;
    EXPECT_NE(a.find("52m 10s"), std::string::npos) << t.text;
    EXPECT_NE(a.find("4m 12s ago"), std::string::npos) << t.text;
    const std::string b = row(t.text, "b");
    EXPECT_NE(b.find("stale"), std::string::npos) << t.text;
    EXPECT_NE(b.find("3m 00s"), std::string::npos) << t.text;
    EXPECT_NE(b.find("1h 00m ago"), std::string::npos) << t.text;
    // The front end that serves, when the daemon says.
    std::string files = doc(R"({"file": "a", "state": "ok"})");
    files.insert(1, R"("mode": "files", )");
    const StatusTable f = render_status_table(files, kNow);
    EXPECT_EQ(f.text.substr(0, f.text.find('\n')),
              "gastown-credfs 0.1.0, up 1h 02m, 1 rig(s), files mode (no mount)");
}

// A transport error names the URL first; shortened, the reason fits.
TEST(StatusTable, UrlsInAnErrorAreShortenedSoTheReasonShows) {
    const StatusTable t = render_status_table(
        doc(rig_json("rig-b", "failing", R"("2026-12-01T12:10:00Z")", R"("2026-12-01T11:10:00Z")",
                     "rig rig-b: POST http://127.0.0.1:34495/api/towns/demo-town/rigs/rig-b/"
                     "refresh-git-token: Couldn't connect to server")),
        kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_NE(row(t.text, "rig-b").find("POST <url>: Couldn't connect to server"),
              std::string::npos)
        << t.text;
}

TEST(StatusTable, FailingRigExitsOneAndShowsItsError) {
    const std::string long_error =
        "rig rig-b: HTTP 503 from the control plane: upstream is being redeployed, try again "
        "later please";
    const StatusTable t = render_status_table(
        doc(rig_json("rig-a", "ok", R"("2026-12-01T12:52:10Z")", R"("2026-12-01T11:55:48Z")") +
            "," +
            rig_json("rig-b", "failing", R"("2026-12-01T12:10:00Z")", R"("2026-12-01T11:10:00Z")",
                     long_error)),
        kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_EQ(t.exit_code, kStatusUnhealthy);
    EXPECT_EQ(t.unhealthy_rigs, 1);
    EXPECT_EQ(t.unhealthy_summary, "rig-b (failing)");
    const std::string b = row(t.text, "rig-b");
    EXPECT_NE(b.find("failing"), std::string::npos) << t.text;
    // The row names the rig, so the error's "rig rig-b: " is left out, and
    // what is left is cut to 60 bytes with "...".
    const std::string shown = long_error.substr(std::string("rig rig-b: ").size());
    EXPECT_NE(b.find(shown.substr(0, 57) + "..."), std::string::npos) << t.text;
    EXPECT_EQ(b.find("rig rig-b:"), std::string::npos) << t.text;
    EXPECT_EQ(b.find("please"), std::string::npos) << t.text;
    EXPECT_TRUE(row(t.text, "rig-a").ends_with(" -"))
        << "a rig without an error shows '-': " << t.text;
}

TEST(StatusTable, ExpiredAndNoTokenExitOne) {
    const StatusTable t = render_status_table(
        doc(rig_json("old", "expired", R"("2026-12-01T11:59:00Z")", R"("2026-12-01T10:59:00Z")",
                     "rig old: connection refused") +
            "," + rig_json("none", "no token", "null", "null", "rig none: HTTP 401")),
        kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_EQ(t.exit_code, kStatusUnhealthy);
    EXPECT_EQ(t.unhealthy_rigs, 2);
    EXPECT_EQ(t.unhealthy_summary, "old (expired), none (no token)");
    const std::string old = row(t.text, "old");
    EXPECT_NE(old.find("expired"), std::string::npos) << t.text;
    const std::string none = row(t.text, "none");
    EXPECT_NE(none.find("no token"), std::string::npos) << t.text;
    EXPECT_NE(none.find("never"), std::string::npos) << "never refreshed: " << t.text;
}

TEST(StatusTable, ExpiryJudgedAtTheGivenClock) {
    // The document says "ok", but the token is past its expiry at `now`.
    const std::string d =
        doc(rig_json("r", "ok", R"("2026-12-01T12:00:30Z")", R"("2026-12-01T11:00:30Z")"));
    EXPECT_NE(row(render_status_table(d, kNow).text, "r").find("30s"), std::string::npos);
    const StatusTable later = render_status_table(d, kNow + std::chrono::minutes(1));
    EXPECT_NE(row(later.text, "r").find("expired"), std::string::npos) << later.text;
}

TEST(StatusTable, NeverExpiringPat) {
    const StatusTable t = render_status_table(
        doc(rig_json("pat", "ok", R"("never")", R"("2026-12-01T11:59:58Z")")), kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_EQ(t.exit_code, kStatusHealthy);
    const std::string r = row(t.text, "pat");
    EXPECT_NE(r.find("never"), std::string::npos) << t.text;
    EXPECT_NE(r.find("2s ago"), std::string::npos) << t.text;
}

TEST(StatusTable, UnknownStateCountsAsUnhealthy) {
    const StatusTable t = render_status_table(
        doc(rig_json("r", "confused", R"("2026-12-01T12:30:00Z")", "null")), kNow);
    ASSERT_TRUE(t.parsed);
    EXPECT_EQ(t.exit_code, kStatusUnhealthy);
}

TEST(StatusTable, NoRigsIsHealthy) {
    const StatusTable t = render_status_table(doc(""), kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_EQ(t.exit_code, kStatusHealthy);
    EXPECT_NE(t.text.find("no rigs"), std::string::npos);
}

TEST(StatusTable, MalformedDocumentsAreErrorsWithExitOne) {
    for (const char* bad : {"", "{", "not json at all", "[]", R"({"rigs": 3})",
                            R"({"version": "0.1.0"})", R"({"rigs": [42]})"}) {
        const StatusTable t = render_status_table(bad, kNow);
        EXPECT_FALSE(t.parsed) << bad;
        EXPECT_EQ(t.exit_code, kStatusUnhealthy) << bad;
        EXPECT_TRUE(t.text.empty()) << bad;
        EXPECT_FALSE(t.error.empty()) << bad;
        EXPECT_EQ(t.error.find('\n'), std::string::npos) << "one line: " << t.error;
    }
}

TEST(StatusTable, AnErrorWithNewlinesStaysOnOneRow) {
    const StatusTable t = render_status_table(
        doc(rig_json("r", "failing", R"("2026-12-01T12:30:00Z")", "null", R"(line1\nline2)")),
        kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_NE(row(t.text, "r").find("line1 line2"), std::string::npos) << t.text;
}

}  // namespace
}  // namespace credfs

namespace credfs {
namespace {

TEST(StatusTable, ShowsGitHubsRateLimitPerInstallationAndRevocations) {
    std::string d = doc(R"({"file": "a", "state": "ok"})");
    d.insert(1, R"("rate_limits": [{"installation": "42", "limit": 5000, "remaining": 4990,
                                   "reset_at": "2026-12-01T13:04:05.000Z"}],
                  "revocation": {"revoked": 3, "already_dead": 1, "failures": 0, "pending": 2}, )");
    const StatusTable t = render_status_table(d, kNow);
    ASSERT_TRUE(t.parsed) << t.error;
    EXPECT_NE(t.text.find("github installation 42: rate limit 4990/5000, resets 13:04:05 UTC\n"),
              std::string::npos)
        << t.text;
    EXPECT_NE(t.text.find("replaced tokens: 3 revoked, 1 already invalid, 2 pending, 0 failed "
                          "attempts\n"),
              std::string::npos)
        << t.text;
    const StatusTable quiet = render_status_table(doc(R"({"file": "a", "state": "ok"})"), kNow);
    EXPECT_EQ(quiet.text.find("rate limit"), std::string::npos);
    EXPECT_EQ(quiet.text.find("replaced tokens"), std::string::npos);
}

}  // namespace
}  // namespace credfs
