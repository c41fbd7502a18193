#include "credfs/core/log.hpp"

#include <spdlog/formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <filesystem>
#include <regex>

namespace credfs {

namespace {

/// Length of the UTF-8 sequence starting at text[i] when it is well formed
/// (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), else 0.
size_t utf8_sequence(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    const unsigned char c = byte(0);
    size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;  // overlong
        if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;  // overlong
        if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
    } else {
        return 0;
    }
    if (i + n > text.size()) return 0;
    if (byte(1) < lo || byte(1) > hi) return 0;
    for (size_t k = 2; k < n; ++k) {
        if (byte(k) < 0x80 || byte(k) > 0xbf) return 0;
    }
    return n;
}

void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const size_t n = utf8_sequence(text, i);
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += fmt::format("\\u{:04x}", c);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
        ++i;
    }
    out.push_back('"');
}

/// spdlog formatter for LogFormat::Json.
class JsonFormatter final : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto level = spdlog::level::to_string_view(msg.level);
        const std::string line =
            json_log_line(std::chrono::time_point_cast<WallClock::duration>(msg.time),
                          std::string_view(level.data(), level.size()),
                          std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonFormatter>();
    }
};

}  // namespace

std::string json_log_line(WallTime time, std::string_view level, std::string_view msg) {
    std::string out = "{\"time\":\"" + format_iso8601(time) + "\",\"level\":";
    append_json_string(out, level);
    out += ",\"msg\":";
    append_json_string(out, msg);
    out += "}\n";
    return out;
}

void check_log_file(const LogConfig& config) {
    if (config.file.empty()) return;
    std::error_code ec;
    const auto dir = std::filesystem::path(config.file).parent_path();
    if (!std::filesystem::is_directory(dir, ec)) {
        throw ConfigError("log.file: directory \"" + dir.string() + "\" does not exist");
    }
    if (std::filesystem::is_directory(config.file, ec)) {
        throw ConfigError("log.file: \"" + config.file + "\" is a directory");
    }
}

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
    if (config.format == LogFormat::Json) {
        logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
    }
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
