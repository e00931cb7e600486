// The control socket of a running daemon, <spool>/control (mode 0600): `dane-relay queue` asks
// the daemon that holds the spool instead of opening it (SPEC §4: admin on a running daemon).
// The protocol is one command line in ("flush\n", "hold ID ID\n", "tlsrpt send-now\n"), then
// "<exit status>\n" and the command's output back. Entry points: ask_daemon() (client),
// ControlServer (the daemon's side). A daemon that does not answer is exit status 75 (EX_TEMPFAIL)
// for the client.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace dr::relay {

class AsyncSpool;

std::string control_socket_path(const std::string& spool_dir);

// Runs `args` (a queue command) in the daemon; copies its output to out. Returns its status.
// `who` begins the error text ("dane-relay queue").
int ask_daemon(const std::string& spool_dir, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err, const std::string& who = "dane-relay queue");

// What the scheduler must hear after a command changed the spool under it.
struct ControlHooks {
    std::function<void()> flushed;                        // deferred mail is due now
    std::function<void(const std::string& id)> released;  // a held message may go
    // `tlsrpt send-now [--day D]` (args as given): exit status and output; unset when
    // [tlsrpt] is off.
    std::function<boost::asio::awaitable<std::pair<int, std::string>>(std::vector<std::string>)>
        tlsrpt;
};

class ControlServer {
  public:
    // Commands run on the spool's pool (flush and hold write and fsync per message), not on `ex`.
    ControlServer(boost::asio::any_io_executor ex, AsyncSpool& spool, ControlHooks hooks);
    // Binds <spool>/control and starts answering; returns an error text, "" when listening.
    std::string open(const std::string& spool_dir);
    void close();  // stops accepting and removes the socket file

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(boost::asio::local::stream_protocol::socket socket);

    boost::asio::any_io_executor ex_;
    AsyncSpool& spool_;
    ControlHooks hooks_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::string path_;
};

}  // namespace dr::relay
