// Logging setup (spdlog) and the redaction every logged upstream text passes.
#pragma once

#include <string>
#include <string_view>

#include "credfs/config.hpp"

namespace credfs {

/// Points spdlog's default logger at `config.file` (appending) or, when that is
/// empty, at stderr; sets the level. With a file, warnings and errors also go
/// to stderr. Lines carry an ISO timestamp and level.
/// Throws ConfigError("log.file: ...") when the file cannot be opened.
void init_logging(const LogConfig& config);

/// Replaces anything that looks like a GitHub token (ghs_, ghp_, gho_, ghu_,
/// ghr_, github_pat_) or a JWT (three base64url parts starting "eyJ") with
/// "[REDACTED]". For text from upstreams that is about to be logged.
std::string redact(std::string_view text);

/// `text` with control bytes and backslashes escaped (\n, \x1b, \\), so a
/// file name cannot forge a log line.
std::string printable(std::string_view text);

}  // namespace credfs
