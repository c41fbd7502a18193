// The config parser: JSON from an operator's file. Any input must either
// parse or throw ConfigError; nothing else may escape, crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "credfs/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    // No environment: a config naming an env var must fail cleanly, not read
    // the fuzzer's own.
    const credfs::EnvLookup no_env = [](const std::string&) { return std::nullopt; };
    try {
        const credfs::Config config = credfs::parse_config(text, no_env, "/nonexistent");
        if (config.rigs.empty()) __builtin_trap();  // the parser promises at least one rig
    } catch (const credfs::ConfigError&) {
    }
    return 0;
}
