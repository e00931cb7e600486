// Opens a file the relay appends records to (the mail log, the JSON evidence) as root would
// safely: never through a symbolic link in the last component, created 0640, and a file it
// creates is handed to the account the daemon will run as, so that the file does not stay
// root's once privileges are dropped (SPEC §3). An existing file keeps its owner. Entry point:
// open_log_file().
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace dr::relay {

struct FileOwner {
    uid_t uid = 0;
    gid_t gid = 0;
};

// Returns the file descriptor, or -1 with `error` set ("<what> <path>: <reason>").
int open_log_file(const std::string& path, const std::optional<FileOwner>& owner,
                  const std::string& what, std::string& error);

}  // namespace dr::relay
