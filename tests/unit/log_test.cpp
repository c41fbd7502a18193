#include <gtest/gtest.h>

#include "credfs/log.hpp"

namespace credfs {
namespace {

TEST(Redact, MasksGitHubTokensAndJwts) {
    EXPECT_EQ(redact("bad token ghs_abc123XYZ given"), "bad token [REDACTED] given");
    EXPECT_EQ(redact("ghp_x github_pat_11AB_cd gho_q"), "[REDACTED] [REDACTED] [REDACTED]");
    EXPECT_EQ(redact("jwt eyJhbGci.eyJzdWIi.sig-_x end"), "jwt [REDACTED] end");
    EXPECT_EQ(redact("plain message, no secrets"), "plain message, no secrets");
}

TEST(Printable, EscapesWhatCouldForgeALogLine) {
    EXPECT_EQ(printable("a\n2026-01-01 critical x\x1b[31m\\"),
              "a\\n2026-01-01 critical x\\x1b[31m\\\\");
    EXPECT_EQ(printable("rig-a.lock"), "rig-a.lock");
}

}  // namespace
}  // namespace credfs
