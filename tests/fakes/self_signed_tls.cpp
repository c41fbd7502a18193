#include "self_signed_tls.hpp"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <random>
#include <stdexcept>
#include <utility>

namespace credfs::fakes {
namespace {

template <typename T, void (*Free)(T*)>
struct OsslDeleter {
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        throw std::runtime_error(std::string("git-http-server: cannot add extension ") + value);
    }
}

std::pair<X509Ptr, PkeyPtr> make_self_signed_cert() {
    PkeyPtr key(EVP_EC_gen("P-256"));
    X509Ptr cert(X509_new());
    if (!key || !cert) throw std::runtime_error("git-http-server: cannot create key/cert");
    X509_set_version(cert.get(), 2);  // v3: needed for subjectAltName
    std::random_device rd;
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(rd() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 60 * 60);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    // Clients check the IP against subjectAltName, never the CN.
    add_extension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
        throw std::runtime_error("git-http-server: cannot sign the certificate");
    }
    return {std::move(cert), std::move(key)};
}

void write_cert_pem(X509* cert, const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("git-http-server: cannot write " + path);
    const bool ok = PEM_write_X509(f, cert) == 1;
    if (std::fclose(f) != 0 || !ok) {
        throw std::runtime_error("git-http-server: cannot write " + path);
    }
}

}  // namespace

std::unique_ptr<httplib::Server> make_self_signed_https_server(const std::string& ca_file) {
    auto [cert, key] = make_self_signed_cert();
    write_cert_pem(cert.get(), ca_file);
    // SSLServer takes its own references to both.
    return std::make_unique<httplib::SSLServer>(cert.get(), key.get());
}

}  // namespace credfs::fakes
