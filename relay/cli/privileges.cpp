// The run-as account and the switch to it (see privileges.hpp).
#include "relay/cli/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dr::relay {

RunAs run_as(const conf::ServerConfig& server) {
    if (::geteuid() != 0 || server.user.empty()) return {};
    errno = 0;
    const struct passwd* pw = ::getpwnam(server.user.c_str());
    if (!pw) {
        std::string why = errno ? std::string(": ") + std::strerror(errno) : std::string();
        return {std::nullopt, "user " + server.user + " does not exist ([server] user)" + why};
    }
    if (pw->pw_uid == 0 && !server.allow_root)
        return {std::nullopt, "user " + server.user +
                                  " has uid 0; name an unprivileged account in [server] user, "
                                  "or set [server] allow_root = true"};
    return {Account{server.user, pw->pw_uid, pw->pw_gid}, {}};
}

std::string switch_to(const Account& a) {
    if (a.uid == 0) return {};  // allowed root: nothing to drop
    if (::setgroups(0, nullptr) != 0 || ::setgid(a.gid) != 0 || ::setuid(a.uid) != 0)
        return "cannot switch to user " + a.name + ": " + std::strerror(errno);
    if (::setuid(0) == 0) return "switched to user " + a.name + " but could regain root";
    return {};
}

}  // namespace dr::relay
