// Queue-file removals in groups (see removal_group.hpp).
#include "relay/spool/removal_group.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace dr::relay {

namespace asio = boost::asio;

asio::awaitable<std::error_code> RemovalGroups::remove(std::string id) {
    if (!next_) {
        next_ = std::make_shared<Group>(ex_);
        next_->done.expires_at(asio::steady_timer::time_point::max());
    }
    auto group = next_;
    const std::size_t at = group->ids.size();
    group->ids.push_back(std::move(id));
    if (!draining_) {
        draining_ = true;
        asio::co_spawn(ex_, drain(), asio::detached);
    }
    if (!group->finished) co_await group->done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return group->results.at(at);
}

// Runs groups one after the other until nobody asks any more.
asio::awaitable<void> RemovalGroups::drain() {
    co_await asio::post(ex_, asio::use_awaitable);  // let this turn's finished messages join
    while (next_) {
        auto group = std::move(next_);
        next_.reset();
        auto job = [this, ids = group->ids] {  // named: GCC 12 and captures in co_await
            std::vector<std::error_code> out;
            out.reserve(ids.size());
            for (const auto& id : ids) out.push_back(spool_.spool().remove(id, Spool::Sync::later));
            return out;
        };
        group->results = co_await spool_.async_call<std::vector<std::error_code>>(
            std::move(job), asio::use_awaitable);
        ++groups_run_;
        group->finished = true;
        group->done.cancel();
    }
    draining_ = false;
}

}  // namespace dr::relay
