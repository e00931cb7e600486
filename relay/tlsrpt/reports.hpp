// Sends the TLSRPT reports (RFC 8460 §3, §5): once a UTC day is over, each policy domain
// counted that day whose `_smtp._tls` TXT record names a `mailto:` rua gets its report as
// mail (report_mail.hpp), committed to our own spool with the [tlsrpt] from address as
// sender and delivered like any other message. Checked at start and every hour; a day is
// marked done (<dir>/<day>.sent) once its reports are queued, so a restart does not send it
// again (a kill while a day's reports are being queued may send some twice, never none).
// `https:` rua endpoints are logged as not supported yet. Entry points: start(), send_due().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <string>

#include "conf/config.hpp"
#include "dane/resolver.hpp"
#include "relay/log/log.hpp"
#include "relay/spool/async_spool.hpp"
#include "relay/tlsrpt/tally.hpp"

namespace dr::relay::tlsrpt {

struct ReportsConfig {
    std::string dir;           // where Counts keeps the days (<spool>/tlsrpt)
    std::string hostname;      // ours: the submitter, the Message-ID
    std::string organization;  // organization-name
    std::string contact;       // contact-info
    std::string from;          // sender of report mail
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

  private:
    boost::asio::awaitable<void> every();
    boost::asio::awaitable<bool> send_day(const std::string& day);
    boost::asio::awaitable<bool> send_domain(const std::string& day, const Tally& t,
                                             const std::string& domain);
    boost::asio::awaitable<bool> queue_mail(const std::string& day, const std::string& domain,
                                            const std::string& to, const std::string& json);

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
