// Sends the TLSRPT reports (RFC 8460 §3, §5): once a UTC day is over, each policy domain
// counted that day whose `_smtp._tls` TXT record names rua addresses gets its report at
// each of them: a `mailto:` one as mail (report_mail.hpp), committed to our own spool with
// the [tlsrpt] from address as sender and delivered like any other message; an `https:`
// one by POST (post.hpp). Checked at start and every hour. What went out is marked per
// domain and address in <dir>/<day>.sent, and the day once all did, so a restart sends
// nothing twice (a kill between a send and its mark may send that one twice, never none).
// A failure is tried again at each check until the day ended 24 hours ago, then given up
// with a warning. `tlsrpt send-now` (send_now) checks at once, or sends one day again.
// Entry points: start(), send_due(), send_now().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "conf/config.hpp"
#include "dane/resolver.hpp"
#include "relay/log/log.hpp"
#include "relay/spool/async_spool.hpp"
#include "relay/tlsrpt/tally.hpp"

namespace dr::relay::tlsrpt {

struct ReportsConfig {
    std::string dir;            // where Counts keeps the days (<spool>/tlsrpt)
    std::string hostname;       // ours: the submitter, the Message-ID
    std::string organization;   // organization-name
    std::string contact;        // contact-info
    std::string from;           // sender of report mail
    std::string ca_file;        // PKIX trust for https: rua ([tls] ca_file; "" = the system's)
    unsigned connect_port = 0;  // tests only: where https: rua are posted
};

// The [tlsrpt] settings with their defaults from [server] hostname (see conf/config.hpp).
ReportsConfig reports_config(const conf::Config& cfg);

class Reports {
  public:
    // `enqueue`: hands a committed message to the queue manager.
    Reports(boost::asio::any_io_executor ex, boost::asio::thread_pool& pool, AsyncSpool& spool,
            dane::Resolver& resolver, Logger& log, ReportsConfig cfg,
            std::function<void(const std::string& id)> enqueue);

    void start();  // send_due() now and every hour
    void stop() { timer_.cancel(); }
    boost::asio::awaitable<void> send_due();  // every finished day not yet sent

    // Every finished day not yet sent, or with `day` that (finished) day again, all of it.
    // The exit status (0; 1 when something failed; 2 a day not finished; 75 busy) and
    // what was done, a line each.
    boost::asio::awaitable<std::pair<int, std::string>> send_now(std::string day);

  private:
    // One round of sending: what it said, and whether all went.
    struct Round {
        bool again = false;  // send even what the marks say went
        bool failed = false;
        std::string said;
    };
    struct Marks {
        std::string day;
        std::set<std::string> done;  // "domain rua", and "sent" once the day is complete
    };

    boost::asio::awaitable<void> every();
    boost::asio::awaitable<void> send_days(std::vector<std::string> days, Round& round);
    boost::asio::awaitable<bool> send_day(const std::string& day, Round& round);
    boost::asio::awaitable<bool> send_domain(const Tally& t, const std::string& domain,
                                             Marks& marks, Round& round);
    boost::asio::awaitable<bool> send_to(const std::string& domain, const std::string& rua,
                                         const std::string& json, Marks& marks, Round& round);
    boost::asio::awaitable<bool> queue_mail(const std::string& day, const std::string& domain,
                                            const std::string& to, const std::string& json,
                                            Round& round);
    boost::asio::awaitable<bool> post(const std::string& day, const std::string& domain,
                                      const std::string& url, const std::string& json,
                                      Round& round);
    boost::asio::awaitable<void> save(const Marks& marks);
    void say(Round& round, bool warning, const std::string& text);

    boost::asio::any_io_executor ex_;
    boost::asio::thread_pool& pool_;
    AsyncSpool& spool_;
    dane::Resolver& resolver_;
    Logger& log_;
    ReportsConfig cfg_;
    std::function<void(const std::string&)> enqueue_;
    boost::asio::steady_timer timer_;
    bool sending_ = false;
};

}  // namespace dr::relay::tlsrpt
