// Logging setup (spdlog) and the redaction every logged upstream text passes.
#pragma once

#include <string>
#include <string_view>

#include "credfs/core/clock.hpp"
#include "credfs/core/config.hpp"

namespace credfs {

/// Checks, before anything is started, that `config.file` can be created
/// where it is: its directory exists and it is not itself a directory. No-op
/// when empty. Throws ConfigError("log.file: ...") naming the path.
void check_log_file(const LogConfig& config);

/// Points spdlog's default logger at `config.file` (appending) or, when that is
/// empty, at stderr; sets the level. With a file, warnings and errors also go
/// to stderr. Lines carry an ISO timestamp and level: LogFormat::Plain writes
/// "2026-01-02T03:04:05.678+00:00 info <message>" (local time with its offset),
/// LogFormat::Json writes json_log_line(). Both sinks use the same format.
/// Throws ConfigError("log.file: ...") when the file cannot be opened.
void init_logging(const LogConfig& config);

/// One line of the JSON log format, newline-terminated:
/// {"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"…"}. `time` is
/// wall time, rendered ISO-8601 UTC with milliseconds; `level` is spdlog's
/// name (trace, debug, info, warning, error, critical). The message is
/// JSON-escaped (RFC 8259): quote and backslash, control bytes and DEL as
/// escapes, and bytes that are not valid UTF-8 as U+FFFD, so every line
/// parses on its own.
std::string json_log_line(WallTime time, std::string_view level, std::string_view msg);

/// Replaces anything that looks like a GitHub token (ghs_, ghp_, gho_, ghu_,
/// ghr_, github_pat_) or a JWT (three base64url parts starting "eyJ") with
/// "[REDACTED]". For text from upstreams that is about to be logged.
std::string redact(std::string_view text);

/// `text` with control bytes and backslashes escaped (\n, \x1b, \\), so a
/// file name cannot forge a log line.
std::string printable(std::string_view text);

}  // namespace credfs
