#include "credfs/engine/fallback_store.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <system_error>

#include "credfs/core/credential_store.hpp"
#include "credfs/core/log.hpp"

namespace credfs {

namespace {

constexpr std::string_view kStateSuffix = ".credfs-state";

std::string_view value_of(std::string_view content, std::string_view key) {
    const std::string prefix = std::string(key) + "=";
    size_t at = 0;
    while (at < content.size()) {
        size_t end = content.find('\n', at);
        if (end == std::string_view::npos) end = content.size();
        const std::string_view line = content.substr(at, end - at);
        if (line.starts_with(prefix)) return line.substr(prefix.size());
        at = end + 1;
    }
    return {};
}

}  // namespace

std::string FallbackStore::merge_with_file(const Credential& cred,
                                           const std::optional<std::string>& on_disk) const {
    if (!on_disk) return cred.content;
    // git wrote the other lines last: they are the file's, not the daemon's
    // (the watcher hands them to the rig after this write).
    std::string content = render_store_line(rig_, cred.token);
    for (const auto& line : parse_store_rewrite(*on_disk, rig_).other_lines) {
        content += line;
        content += '\n';
    }
    return content;
}

FallbackStore::FallbackStore(const BackingDir& dir, const RigConfig& rig) : dir_(dir), rig_(rig) {}

FallbackStore::Seed FallbackStore::load() const {
    Seed seed;
    const auto content = dir_.read(rig_.file);
    if (!content) return seed;
    seed.found = true;
    StoreRewrite found = parse_store_rewrite(*content, rig_);
    seed.other_lines = std::move(found.other_lines);
    seed.token = std::move(found.managed_password);
    if (!seed.token || seed.token->empty()) return seed;
    if (const auto state = dir_.read(state_file_name(rig_.file))) {
        seed.expires_at = parse_state(*state, *seed.token);
    }
    return seed;
}

void FallbackStore::write(const std::function<CredentialPtr()>& newest) {
    MutexLock serial(write_mu_);
    const CredentialPtr cred = newest();
    if (!cred) return;
    // The state record is overwritten in place, not fsync'ed: one lost,
    // emptied or torn no longer matches the token's fingerprint, so the
    // token is refreshed at startup instead of trusted (docs/design.md, "The
    // fallback write's fsyncs"). The rig file, which git reads with no
    // daemon, is replaced whole and fsync'ed.
    int err = dir_.write_in_place(state_file_name(rig_.file),
                                  render_state(cred->expires_at, cred->token));
    // Without a mount over it, git's store helper writes this file too.
    const bool shared = dir_.shared_with_git();
    if (err == 0 && shared) {
        err = dir_.write_under_git_lock(rig_.file, [&](const std::optional<std::string>& on_disk) {
            return merge_with_file(*cred, on_disk);
        });
    } else if (err == 0) {
        err = dir_.write_atomic(rig_.file, cred->content);
    }
    const std::string why =
        err == 0 ? ""
        : shared && err == EEXIST
            ? rig_.file + ".lock stayed held (a git is writing, or one died holding it)"
            : std::error_code(err, std::generic_category()).message();
    bool changed = false;
    {
        MutexLock lock(mu_);
        changed = health_.error != why;
        if (err != 0) ++health_.failures;
        health_.error = why;
    }
    if (err != 0 && changed) {
        spdlog::warn("rig {}: cannot write the fallback file {}: {} ({})", rig_.id,
                     printable(rig_.file), why,
                     shared ? "git reads the old file until a write succeeds; retried"
                            : "reads through the mount are unaffected");
    } else if (err == 0 && changed) {
        spdlog::info("rig {}: fallback file writes work again", rig_.id);
    }
}

FallbackStore::Health FallbackStore::health() const {
    MutexLock lock(mu_);
    return health_;
}

bool FallbackStore::current() const {
    MutexLock lock(mu_);
    return health_.error.empty();
}

std::string FallbackStore::state_file_name(const std::string& file) {
    return "." + file + std::string(kStateSuffix);
}

bool FallbackStore::is_state_file_name(std::string_view name) {
    return name.starts_with(".") && name.ends_with(kStateSuffix);
}

std::string FallbackStore::token_fingerprint(std::string_view token) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < 16 && i < len; ++i) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    return hex;
}

std::string FallbackStore::render_state(WallTime expires_at, std::string_view token) {
    const std::string expiry =
        expires_at == WallTime::max() ? std::string("never") : format_iso8601(expires_at);
    return "expires_at=" + expiry + "\nfingerprint=" + token_fingerprint(token) + "\n";
}

std::optional<WallTime> FallbackStore::parse_state(std::string_view content,
                                                   std::string_view token) {
    if (value_of(content, "fingerprint") != token_fingerprint(token)) return std::nullopt;
    return parse_iso8601(value_of(content, "expires_at"));
}

bool FallbackStore::is_passthrough(const BackingDir& dir, std::string_view name) {
    if (name.empty() || is_state_file_name(name) || BackingDir::is_temp_name(name)) return false;
    // A static file with a state file beside it is a rig's (perhaps one the
    // config no longer lists): not shown, so removed rigs disappear.
    struct stat st {};
    return dir.stat(state_file_name(std::string(name)), st) != 0;
}

}  // namespace credfs
