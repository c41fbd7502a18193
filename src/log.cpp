#include "credfs/log.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <regex>

namespace credfs {

void init_logging(const LogConfig& config) {
    auto to_stderr = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    std::vector<spdlog::sink_ptr> sinks{to_stderr};
    if (!config.file.empty()) {
        try {
            sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file));
        } catch (const spdlog::spdlog_ex& e) {
            throw ConfigError("log.file: cannot open \"" + config.file + "\": " + e.what());
        }
        // Warnings and errors still reach the terminal (startup failures such
        // as a busy mountpoint); a detached daemon's stderr is /dev/null.
        to_stderr->set_level(spdlog::level::warn);
    }
    auto logger = std::make_shared<spdlog::logger>("credfs", sinks.begin(), sinks.end());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
    logger->set_level(spdlog::level::from_str(config.level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

std::string redact(std::string_view text) {
    static const std::regex kSecret(
        R"((gh[psoru]_|github_pat_)[A-Za-z0-9_.\-]+|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*)");
    return std::regex_replace(std::string(text), kSecret, "[REDACTED]");
}

}  // namespace credfs
