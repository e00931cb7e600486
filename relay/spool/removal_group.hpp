// Queue-file removals in groups: every remove() asked while a group is on the spool's pool
// joins the next group, and a group is one pool job (Spool::remove with Sync::later for each
// ID), so a busy queue pays one thread hand-off for many finished messages instead of one
// each. The directory fsync stays the caller's (Spool::sync_removals).
// Entry point: RemovalGroups::remove (call it on the owner's executor, one thread).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "relay/spool/async_spool.hpp"

namespace dr::relay {

class RemovalGroups {
  public:
    RemovalGroups(boost::asio::any_io_executor ex, AsyncSpool& spool) : ex_(ex), spool_(spool) {}
    // Spool::remove(id, Sync::later)'s result, once the group holding `id` ran.
    boost::asio::awaitable<std::error_code> remove(std::string id);
    std::size_t groups_run() const { return groups_run_; }

  private:
    struct Group {
        explicit Group(boost::asio::any_io_executor ex) : done(ex) {}
        std::vector<std::string> ids;
        std::vector<std::error_code> results;
        boost::asio::steady_timer done;  // cancelled once results are in
        bool finished = false;
    };
    boost::asio::awaitable<void> drain();

    boost::asio::any_io_executor ex_;
    AsyncSpool& spool_;
    std::shared_ptr<Group> next_;  // gathering while another group runs
    bool draining_ = false;
    std::size_t groups_run_ = 0;
};

}  // namespace dr::relay
