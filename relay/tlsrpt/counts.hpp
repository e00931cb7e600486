// The daemon's TLSRPT counts (RFC 8460 §4.3: per policy domain and UTC day), live: added to
// on the queue's loop after each delivery attempt, written to the Store every
// `flush_every` and at flush() (the daemon's drain), on a thread pool, never on the loop.
// A restart reads today's file back and goes on counting (a kill -9 loses at most the
// counts since the last write). Entry points: start(), add(), flush().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "relay/log/log.hpp"
#include "relay/tlsrpt/store.hpp"

namespace dr::relay::tlsrpt {

class Counts {
  public:
    Counts(boost::asio::any_io_executor ex, boost::asio::thread_pool& pool, std::string dir,
           Logger& log, std::chrono::seconds flush_every = std::chrono::seconds(60));

    // Reads today's file, at start-up (blocking, before the loop serves: a write must never
    // replace counts not yet read), and starts the writes.
    void start();
    void add(const std::vector<SessionOutcome>& outcomes, std::int64_t now);
    boost::asio::awaitable<void> flush();  // writes every day changed since the last write
    void stop() { timer_.cancel(); }

  private:
    boost::asio::awaitable<void> every();

    boost::asio::any_io_executor ex_;
    boost::asio::thread_pool& pool_;
    Store store_;
    Logger& log_;
    std::chrono::seconds flush_every_;
    boost::asio::steady_timer timer_;
    std::map<std::string, Tally> days_;
    std::set<std::string> dirty_;
    bool stopped_ = false;
};

}  // namespace dr::relay::tlsrpt
