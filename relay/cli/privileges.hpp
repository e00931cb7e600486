// Who the relay runs as (SPEC §3): the `[server] user` account, looked up once, and the switch
// to it when started as root. `serve` switches after binding and before its first DNS query;
// `queue` switches before it opens the spool, as Postfix's postsuper does, so that root never
// walks or creates files in a directory the unprivileged user controls. An account with uid 0
// is refused unless `[server] allow_root = true`. Entry points: run_as(), switch_to().
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "conf/config.hpp"
#include "relay/log/log_file.hpp"

namespace dr::relay {

struct Account {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    FileOwner owner() const { return {uid, gid}; }
};

struct RunAs {
    std::optional<Account> account;  // empty: keep the starting user (not root, or user = "")
    std::string error;               // not empty: the account cannot be used
};

// The account to switch to when the process is root; nothing to do otherwise.
RunAs run_as(const conf::ServerConfig& server);

// Drops every privilege to `a` (supplementary groups, gid, uid) and checks that root cannot be
// regained. Returns an error text, empty on success.
std::string switch_to(const Account& a);

}  // namespace dr::relay
