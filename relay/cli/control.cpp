// Both ends of the control socket (see control.hpp).
#include "relay/cli/control.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <sstream>

#include "relay/cli/queue_command.hpp"
#include "relay/spool/async_spool.hpp"

namespace dr::relay {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

std::string control_socket_path(const std::string& spool_dir) {
    return spool_dir + "/control";
}

int ask_daemon(const std::string& spool_dir, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err, const std::string& who) {
    try {
        asio::io_context io;
        local::socket s(io);
        s.connect(control_socket_path(spool_dir));
        std::string line;
        for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
        asio::write(s, asio::buffer(line + "\n"));
        std::string reply;
        boost::system::error_code ec;
        asio::read(s, asio::dynamic_buffer(reply), ec);
        auto nl = reply.find('\n');
        if (nl == std::string::npos) throw std::runtime_error("no answer from the daemon");
        out << reply.substr(nl + 1);
        return std::stoi(reply.substr(0, nl));
    } catch (const std::exception& e) {
        err << who << ": the daemon's control socket " << control_socket_path(spool_dir)
            << " does not answer: " << e.what() << "\n";
        return 75;
    }
}

ControlServer::ControlServer(asio::any_io_executor ex, AsyncSpool& spool, ControlHooks hooks)
    : ex_(ex), spool_(spool), hooks_(std::move(hooks)), acceptor_(ex) {}

std::string ControlServer::open(const std::string& spool_dir) {
    path_ = control_socket_path(spool_dir);
    ::unlink(path_.c_str());
    try {
        acceptor_.open();
        acceptor_.bind(local::endpoint(path_));
        ::chmod(path_.c_str(), 0600);
        acceptor_.listen();
    } catch (const boost::system::system_error& e) {
        return "no control socket " + path_ + ": " + e.code().message();
    }
    asio::co_spawn(ex_, accept_loop(), asio::detached);
    return {};
}

void ControlServer::close() {
    if (!acceptor_.is_open()) return;
    acceptor_.close();
    ::unlink(path_.c_str());
}

asio::awaitable<void> ControlServer::accept_loop() {
    while (acceptor_.is_open()) {
        boost::system::error_code ec;
        auto socket =
            co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return;
        if (!ec) asio::co_spawn(ex_, session(std::move(socket)), asio::detached);
    }
}

asio::awaitable<void> ControlServer::session(local::socket socket) {
    boost::system::error_code ec;
    std::string line;
    co_await asio::async_read_until(socket, asio::dynamic_buffer(line, 4096), '\n',
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    std::istringstream words(line.substr(0, line.find('\n')));
    std::vector<std::string> args;
    for (std::string w; words >> w;) args.push_back(w);
    if (!args.empty() && args[0] == "tlsrpt") {
        std::pair<int, std::string> done{1, "TLSRPT is off ([tlsrpt] enabled = false)\n"};
        if (hooks_.tlsrpt) done = co_await hooks_.tlsrpt(args);
        std::string reply = std::to_string(done.first) + "\n" + done.second;
        co_await asio::async_write(socket, asio::buffer(reply),
                                   asio::redirect_error(asio::use_awaitable, ec));
        co_return;
    }
    struct Outcome {
        int rc = 0;
        std::string text;
    };
    // A named lambda: GCC 12 mishandles one with captures built inside a co_await expression.
    auto job = [this, args] {
        std::ostringstream out, err;
        int rc = run_queue_command_on(spool_.spool(), args, out, err);
        return Outcome{rc, out.str() + err.str()};
    };
    auto done = co_await spool_.async_call<Outcome>(std::move(job), asio::use_awaitable);
    const int rc = done.rc;
    if (rc == 0 && !args.empty() && args[0] == "flush" && hooks_.flushed) hooks_.flushed();
    if (!args.empty() && args[0] == "release" && hooks_.released)
        for (std::size_t i = 1; i < args.size(); ++i) hooks_.released(args[i]);
    std::string reply = std::to_string(rc) + "\n" + done.text;
    co_await asio::async_write(socket, asio::buffer(reply),
                               asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace dr::relay
