// Test driver for StsPolicies::find() (relay/queue/sts_policies.hpp) in the lab, run by
// sts_policy_lab_test.py:  sts_policy_probe DOMAIN CACHE_DIR CA_FILE PORT [CALLS]
// resolving through the lab ($LAB_UNBOUND_CONF); prints "policy: MODE MAX_AGE MX..." or
// "policy: none", then "failure: ...", "fetched: yes|no" and "why: ...", one per line, for
// the first of CALLS concurrent calls (default 1), then "fetches: N" (how many fetched) and
// "agree: yes|no" (every call found the same policy).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "relay/queue/sts_policies.hpp"

int main(int argc, char** argv) {
    using namespace dr;
    if ((argc != 5 && argc != 6) || !std::getenv("LAB_UNBOUND_CONF")) {
        std::fprintf(stderr,
                     "usage (in the lab): sts_policy_probe DOMAIN CACHE_DIR CA_FILE PORT "
                     "[CALLS]\n");
        return 2;
    }
    boost::asio::io_context io;
    boost::asio::thread_pool pool(1);
    conf::DnsConfig dns;
    dns.unbound_conf = std::getenv("LAB_UNBOUND_CONF");
    dane::Resolver resolver(io.get_executor(), dns);
    dane::StsFetchOptions options;
    options.ca_file = argv[3];
    options.port = static_cast<unsigned>(std::stoul(argv[4]));
    options.timeout = std::chrono::seconds(10);
    relay::StsPolicies policies(resolver, pool, argv[2], options);
    const std::size_t calls = argc == 6 ? std::stoul(argv[5]) : 1;
    std::vector<relay::StsFound> all(calls);
    for (auto& found : all)
        boost::asio::co_spawn(
            io,
            [&policies, &found, domain = std::string(argv[1])]() -> boost::asio::awaitable<void> {
                found = co_await policies.find(domain);
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
    io.run();
    pool.join();
    const auto& found = all.front();
    if (found.policy) {
        std::printf("policy: %s %u", dane::to_string(found.policy->mode), found.policy->max_age);
        for (const auto& mx : found.policy->mx) std::printf(" %s", mx.c_str());
        std::printf("\n");
    } else {
        std::printf("policy: none\n");
    }
    std::printf("failure: %s\nfetched: %s\nwhy: %s\n", found.failure.c_str(),
                found.fetched ? "yes" : "no", found.why.c_str());
    std::size_t fetches = 0;
    bool agree = true;
    for (const auto& f : all) {
        fetches += f.fetched;
        agree = agree && f.policy.has_value() == found.policy.has_value() &&
                (!f.policy || f.policy->mx == found.policy->mx);
    }
    std::printf("fetches: %zu\nagree: %s\n", fetches, agree ? "yes" : "no");
    return 0;
}
