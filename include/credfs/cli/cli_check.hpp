// `gastown-credfs check --config FILE`: fetch one token per rig from the
// configured sources, without mounting, to tell whether the daemon would get
// tokens. Builds the rigs the daemon's way (RigRegistry: per-rig sources
// override the top-level one, equal ones are shared) but with no backing
// directory, so no fallback file is read or written anywhere.
#pragma once

#include <string>
#include <vector>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"

namespace credfs {

struct RigCheck {
    std::string file;  ///< The rig's file name ("source" when no source could be built).
    bool ok = false;
    /// OK: "token valid for 59m 58s" (or "token does not expire"); FAIL: the
    /// source's error, as the daemon would log it (redacted by the sources;
    /// never a token).
    std::string detail;
};

/// Fetches one token for every rig of `config`, all rigs at once, and waits
/// for every answer; bounded by the sources' own timeouts. Remaining
/// lifetimes are judged at `clock`'s wall time. A source that cannot be built
/// (SourceError) gives one FAIL entry named "source". Tokens are dropped once
/// judged. Never throws.
std::vector<RigCheck> check_sources(const Config& config, const Clock& clock);

/// "OK   <file>  <detail>" / "FAIL <file>  <detail>" lines, file names padded
/// to one width, newline-terminated.
std::string format_rig_checks(const std::vector<RigCheck>& checks);

/// 0 when every entry is OK (and there is at least one), else 1.
int rig_checks_exit_code(const std::vector<RigCheck>& checks);

}  // namespace credfs
