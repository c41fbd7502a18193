#include <curl/curl.h>

#include <array>
#include <cctype>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#include "credfs/core/thread_annotations.hpp"
#include "credfs/sources/http_client.hpp"

namespace credfs {

namespace {

constexpr size_t kMaxBody = 1 << 20;

struct BodySink {
    std::string* body = nullptr;
    bool too_big = false;
};

size_t append_body(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<BodySink*>(user);
    const size_t n = size * count;
    if (sink->body->size() + n > kMaxBody) {
        sink->too_big = true;
        return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    sink->body->append(data, n);
    return n;
}

size_t collect_header(char* data, size_t size, size_t count, void* user) {
    auto* headers = static_cast<std::map<std::string, std::string>*>(user);
    const std::string line(data, size * count);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        const size_t first = value.find_first_not_of(" \t");
        const size_t last = value.find_last_not_of(" \t\r\n");
        (*headers)[name] = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    }
    return size * count;
}

struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

long millis(double seconds) { return std::lround(seconds * 1000.0); }

}  // namespace

/// The idle easy handles and what they share. A handle is used by one
/// request at a time; the share's data is guarded by its lock callbacks.
class CurlHttpClient::Pool {
  public:
    explicit Pool(std::size_t max_idle) : max_idle_(max_idle), share_(curl_share_init()) {
        if (share_ == nullptr) return;  // each handle then caches on its own
        curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &Pool::lock);
        curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &Pool::unlock);
        curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
        curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    ~Pool() {
        {
            MutexLock lock(mu_);
            for (CURL* h : idle_) curl_easy_cleanup(h);
            idle_.clear();
        }
        // Only once no handle uses it (else CURLSHE_IN_USE).
        if (share_ != nullptr) curl_share_cleanup(share_);
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    /// A pooled handle for the length of one request.
    class Lease {
      public:
        explicit Lease(Pool& pool) : pool_(pool), h_(pool.take()) {}
        ~Lease() {
            if (h_ != nullptr) pool_.give_back(h_);
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        CURL* get() const { return h_; }

      private:
        Pool& pool_;
        CURL* h_;
    };

    /// A handle with no options set: the one returned last, or a new one.
    /// Null when curl cannot make one.
    CURL* take() CREDFS_EXCLUDES(mu_) {
        {
            MutexLock lock(mu_);
            if (!idle_.empty()) {
                CURL* h = idle_.back();
                idle_.pop_back();
                return h;
            }
        }
        CURL* h = curl_easy_init();
        // Set once: curl_easy_reset keeps a handle's share.
        if (h != nullptr && share_ != nullptr) curl_easy_setopt(h, CURLOPT_SHARE, share_);
        return h;
    }

    /// Clears every option (no pointer into a finished request stays behind)
    /// but keeps the handle's live connections, then keeps the handle.
    void give_back(CURL* h) CREDFS_EXCLUDES(mu_) {
        curl_easy_reset(h);
        {
            MutexLock lock(mu_);
            if (idle_.size() < max_idle_) {
                idle_.push_back(h);
                return;
            }
        }
        curl_easy_cleanup(h);
    }

  private:
    static void lock(CURL* /*h*/, curl_lock_data data, curl_lock_access /*access*/, void* user) {
        static_cast<Pool*>(user)->share_mu_.at(static_cast<std::size_t>(data)).lock();
    }
    static void unlock(CURL* /*h*/, curl_lock_data data, void* user) {
        static_cast<Pool*>(user)->share_mu_.at(static_cast<std::size_t>(data)).unlock();
    }

    const std::size_t max_idle_;
    CURLSH* const share_;
    // One per kind of shared data, as libcurl asks (CURLSHOPT_LOCKFUNC).
    std::array<std::mutex, CURL_LOCK_DATA_LAST> share_mu_;
    Mutex mu_;
    std::vector<CURL*> idle_ CREDFS_GUARDED_BY(mu_);
};

CurlHttpClient::CurlHttpClient(std::size_t max_idle) : pool_(std::make_unique<Pool>(max_idle)) {}

CurlHttpClient::~CurlHttpClient() = default;

HttpResponse CurlHttpClient::send(const HttpRequest& request) {
    const std::string what = request.method + " " + request.url;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& h : request.headers) {
        curl_slist* next = curl_slist_append(headers.get(), h.c_str());
        if (next == nullptr) throw HttpError(what + ": out of memory");
        (void)headers.release();
        headers.reset(next);
    }
    HttpResponse response;
    BodySink sink{&response.body};
    char detail[CURL_ERROR_SIZE] = "";
    // Declared after what the handle points to: given back (and reset)
    // before the headers, the body and the error buffer go.
    const Pool::Lease lease(*pool_);
    CURL* h = lease.get();
    if (h == nullptr) throw HttpError(what + ": curl_easy_init failed");
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
    if (request.method == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    } else if (request.method != "GET") {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, millis(request.connect_timeout_s));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, millis(request.timeout_s));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    // A Content-Length over the cap fails before the body is read at all.
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxBody));
    // Never follow a redirect: it would carry the bearer token (a header we
    // set) to wherever the Location says. A 3xx is returned as is.
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gastown-credfs/" CREDFS_VERSION);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!request.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_bundle.c_str());
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        std::string why;
        if (sink.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            why = "response body over 1 MiB, refused";
        } else {
            // curl's own words first ("Operation timed out after 1001
            // milliseconds with 7 bytes received", "Failed to connect to
            // 127.0.0.1 port 9 ...: Connection refused"): they name the fault.
            why = curl_easy_strerror(rc);
            const std::string said = detail;
            if (!said.empty() && said.find(why) == std::string::npos) {
                why = said + " (" + why + ")";
            } else if (!said.empty()) {
                why = said;
            }
        }
        throw HttpError(what + ": " + why);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace credfs
