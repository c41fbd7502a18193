// The files a config names, checked where they are used: parse_config
// (core/config.hpp) is pure and never opens them. Called before a config is
// put to work: at daemon start, by `check`, and on every SIGHUP reload.
#pragma once

#include <string>

#include "credfs/core/config.hpp"

namespace credfs {

/// Checks the files `source` names, as its token source will use them:
/// secret files (token_file, container_token_file, private_key_file,
/// ca_bundle) are readable, non-empty regular files; private_key_file is a PEM
/// private key (PKCS#1 or PKCS#8); an exec command given as a path is an
/// executable file (a bare name is looked up on PATH when it runs). Throws
/// ConfigError, one line naming `key_prefix` + the key and the path, e.g.
/// "source.token_file: cannot read \"/etc/pat\"". Reads no token into memory
/// beyond its first word.
void check_source_files(const SourceConfig& source, const std::string& key_prefix = "");

/// Every file `config` names, in the order parse_config reads the keys:
/// log.file (core/log.hpp check_log_file), the top-level source, then each
/// rig's own source (errors prefixed "rigs[<i>]."). Throws ConfigError on the
/// first problem.
void check_config_files(const Config& config);

}  // namespace credfs
