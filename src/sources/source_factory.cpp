// The one place that knows every token source: builds the one a config names.
#include "credfs/sources/source_factory.hpp"

#include "credfs/sources/exec_source.hpp"
#include "credfs/sources/gastown_source.hpp"
#include "credfs/sources/github_app_source.hpp"
#include "credfs/sources/static_source.hpp"

namespace credfs {

namespace {

// A source that borrows an HTTP client (so tests can hand it a fake), with
// the libcurl client it borrows owned beside it.
template <class Source>
class WithCurlClient final : public TokenSource {
  public:
    WithCurlClient(const SourceConfig& config, const Clock& clock) : inner_(config, http_, clock) {}
    Token fetch(const RigConfig& rig) override { return inner_.fetch(rig); }
    std::string type_name() const override { return inner_.type_name(); }
    std::optional<RateLimit> rate_limit() const override { return inner_.rate_limit(); }
    bool can_revoke() const override { return inner_.can_revoke(); }
    RevokeOutcome revoke(const std::string& token, double max_s) override {
        return inner_.revoke(token, max_s);
    }

  private:
    CurlHttpClient http_;  // declared first: constructed before inner_ borrows it
    Source inner_;
};

}  // namespace

std::unique_ptr<TokenSource> make_token_source(const SourceConfig& config, const Clock& clock) {
    switch (config.type) {
        case SourceConfig::Type::Static:
            return std::make_unique<StaticSource>(config.token_file);
        case SourceConfig::Type::Exec:
            return std::make_unique<ExecSource>(config.command, config.exec_timeout_s, clock);
        case SourceConfig::Type::GitHubApp:
            return std::make_unique<WithCurlClient<GitHubAppSource>>(config, clock);
        case SourceConfig::Type::Gastown:
            break;
    }
    return std::make_unique<WithCurlClient<GastownSource>>(config, clock);
}

}  // namespace credfs
