#include "credfs/sources/config_files.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "credfs/core/log.hpp"
#include "credfs/sources/github_app_source.hpp"

namespace credfs {

namespace {

[[noreturn]] void fail(const std::string& key, const std::string& problem) {
    throw ConfigError(key + ": " + problem);
}

/// A file holding a secret must be a readable, non-empty regular file.
void check_secret_file(const std::string& path, const std::string& key) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(key, "\"" + path + "\" is a directory");
    std::ifstream in(path);
    if (!in) fail(key, "cannot read \"" + path + "\"");
    std::string word;
    if (!(in >> word)) fail(key, "\"" + path + "\" is empty");
}

}  // namespace

void check_source_files(const SourceConfig& source, const std::string& key_prefix) {
    const std::string key = key_prefix + "source.";
    switch (source.type) {
        case SourceConfig::Type::Gastown:
            if (!source.ca_bundle.empty()) check_secret_file(source.ca_bundle, key + "ca_bundle");
            if (!source.container_token_file.empty()) {
                check_secret_file(source.container_token_file, key + "container_token_file");
            }
            return;
        case SourceConfig::Type::Static:
            check_secret_file(source.token_file, key + "token_file");
            return;
        case SourceConfig::Type::GitHubApp:
            check_secret_file(source.private_key_file, key + "private_key_file");
            try {
                load_private_key(source.private_key_file);
            } catch (const SourceError&) {
                fail(key + "private_key_file",
                     "\"" + source.private_key_file +
                         "\" is not a PEM private key (PKCS#1 or PKCS#8)");
            }
            if (!source.ca_bundle.empty()) check_secret_file(source.ca_bundle, key + "ca_bundle");
            return;
        case SourceConfig::Type::Exec: {
            const std::string& program = source.command.empty() ? "" : source.command[0];
            if (program.find('/') == std::string::npos) return;
            std::error_code ec;
            if (::access(program.c_str(), X_OK) != 0 ||
                std::filesystem::is_directory(program, ec)) {
                fail(key + "command[0]", "\"" + program + "\" is not an executable file");
            }
            return;
        }
    }
}

void check_config_files(const Config& config) {
    check_log_file(config.log);
    check_source_files(config.source);
    for (size_t i = 0; i < config.rigs.size(); ++i) {
        if (config.rigs[i].source) {
            check_source_files(*config.rigs[i].source, "rigs[" + std::to_string(i) + "].");
        }
    }
}

}  // namespace credfs
