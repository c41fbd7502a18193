// The one place that knows every token source: builds the one a config names.
#include "credfs/sources/source_factory.hpp"

#include "credfs/sources/exec_source.hpp"
#include "credfs/sources/gastown_source.hpp"
#include "credfs/sources/github_app_source.hpp"
#include "credfs/sources/static_source.hpp"

namespace credfs {

namespace {

// Owns the HTTP client its GastownSource borrows.
class OwningGastownSource final : public TokenSource {
  public:
    OwningGastownSource(const SourceConfig& config, const Clock& clock)
        : inner_(config, http_, clock) {}
    Token fetch(const RigConfig& rig) override { return inner_.fetch(rig); }
    std::string type_name() const override { return inner_.type_name(); }

  private:
    CurlHttpClient http_;
    GastownSource inner_;
};

// Owns the HTTP client its GitHubAppSource borrows.
class OwningGitHubAppSource final : public TokenSource {
  public:
    OwningGitHubAppSource(const SourceConfig& config, const Clock& clock)
        : inner_(config, http_, clock) {}
    Token fetch(const RigConfig& rig) override { return inner_.fetch(rig); }
    std::string type_name() const override { return inner_.type_name(); }

  private:
    CurlHttpClient http_;
    GitHubAppSource inner_;
};

}  // namespace

std::unique_ptr<TokenSource> make_token_source(const SourceConfig& config, const Clock& clock) {
    switch (config.type) {
        case SourceConfig::Type::Static:
            return std::make_unique<StaticSource>(config.token_file);
        case SourceConfig::Type::Exec:
            return std::make_unique<ExecSource>(config.command, config.exec_timeout_s, clock);
        case SourceConfig::Type::GitHubApp:
            return std::make_unique<OwningGitHubAppSource>(config, clock);
        case SourceConfig::Type::Gastown:
            break;
    }
    return std::make_unique<OwningGastownSource>(config, clock);
}

}  // namespace credfs
