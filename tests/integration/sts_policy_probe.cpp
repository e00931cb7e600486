// Test driver for StsPolicies::find() (relay/queue/sts_policies.hpp) in the lab, run by
// sts_policy_lab_test.py:  sts_policy_probe DOMAIN CACHE_DIR CA_FILE PORT
// resolving through the lab ($LAB_UNBOUND_CONF); prints "policy: MODE MAX_AGE MX..." or
// "policy: none", then "failure: ...", "fetched: yes|no" and "why: ...", one per line.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "relay/queue/sts_policies.hpp"

int main(int argc, char** argv) {
    using namespace dr;
    if (argc != 5 || !std::getenv("LAB_UNBOUND_CONF")) {
        std::fprintf(stderr,
                     "usage (in the lab): sts_policy_probe DOMAIN CACHE_DIR CA_FILE PORT\n");
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
    relay::StsFound found;
    boost::asio::co_spawn(
        io, [&]() -> boost::asio::awaitable<void> { found = co_await policies.find(argv[1]); },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    pool.join();
    if (found.policy) {
        std::printf("policy: %s %u", dane::to_string(found.policy->mode), found.policy->max_age);
        for (const auto& mx : found.policy->mx) std::printf(" %s", mx.c_str());
        std::printf("\n");
    } else {
        std::printf("policy: none\n");
    }
    std::printf("failure: %s\nfetched: %s\nwhy: %s\n", found.failure.c_str(),
                found.fetched ? "yes" : "no", found.why.c_str());
    return 0;
}
