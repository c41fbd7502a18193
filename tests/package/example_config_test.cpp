// The example config the Debian package ships
// (/usr/share/doc/gastown-credfs/examples/) must be one the daemon accepts:
// the same parser as startup, `check` and a SIGHUP reload.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "credfs/core/config.hpp"

namespace credfs {
namespace {

TEST(ExampleConfig, TheShippedExampleParses) {
    const EnvLookup no_env = [](const std::string&) -> std::optional<std::string> {
        return std::nullopt;
    };
    Config c;
    ASSERT_NO_THROW(c = load_config(CREDFS_EXAMPLE_CONFIG, no_env));
    EXPECT_EQ(c.source.type, SourceConfig::Type::Gastown);
    EXPECT_EQ(c.rigs.size(), 2U);
    EXPECT_TRUE(c.warnings.empty());
}

}  // namespace
}  // namespace credfs
