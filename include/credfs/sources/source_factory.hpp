// Builds the token source a config names; the only file that knows them all.
#pragma once

#include <memory>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"
#include "credfs/sources/token_source.hpp"

namespace credfs {

/// Builds the source named by `config.type`. gastown and github_app sources
/// own a libcurl client; `clock` must outlive the source. Throws ConfigError
/// only where the source itself checks its inputs at construction.
std::unique_ptr<TokenSource> make_token_source(const SourceConfig& config, const Clock& clock);

}  // namespace credfs
