// Which MTA-STS policy (RFC 8461) applies to a domain now: the `_mta-sts` TXT lookup through
// the validating resolver, the policy cached on disk (dane/sts_cache.hpp, in the directory
// the caller names: the daemon's is <spool>/sts) and in memory, and the HTTPS fetch
// (dane/sts_fetch.hpp) when the TXT id is new or nothing fresh is cached; the decisions are
// dane/sts_state.hpp's. Disk and fetch run on a thread pool, never on the event loop;
// mta-sts.<domain> is looked up through the same resolver. Entry point: StsPolicies::find().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dane/resolver.hpp"
#include "dane/sts_fetch.hpp"
#include "dane/sts_state.hpp"

namespace dr::relay {

struct StsFound {
    std::optional<dane::StsPolicy> policy;  // nullopt: no MTA-STS policy applies (or mode none)
    // The TLSRPT result type when the fetch or the policy failed (RFC 8460 §4.3.2.1:
    // "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"), else empty.
    std::string failure;
    std::string why;       // for the log: why there is no policy, or what failed
    bool fetched = false;  // this call fetched the policy file
};

class StsPolicies {
  public:
    // `options` as for every fetch (ca_file, timeout, port); the addresses are looked up here.
    // An empty `cache_dir` keeps policies in memory only (`check`, `monitor`).
    StsPolicies(dane::Resolver& resolver, boost::asio::thread_pool& pool, std::string cache_dir,
                dane::StsFetchOptions options);

    // Concurrent calls for one domain (parallel deliveries to it) share one lookup and fetch:
    // the later ones wait for the first one's answer.
    boost::asio::awaitable<StsFound> find(std::string domain);

  private:
    struct Flight;  // one lookup in progress, and who waits for it
    boost::asio::awaitable<StsFound> look(const std::string& domain);
    boost::asio::awaitable<std::optional<dane::StsCached>> cached(const std::string& domain);
    boost::asio::awaitable<void> keep(const std::string& domain, dane::StsCached entry);
    boost::asio::awaitable<dane::StsFetch> fetch(const std::string& domain);

    dane::Resolver& resolver_;
    boost::asio::thread_pool& pool_;
    std::string dir_;
    dane::StsFetchOptions options_;
    std::map<std::string, std::optional<dane::StsCached>> memo_;  // the disk's, once read
    std::map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace dr::relay
