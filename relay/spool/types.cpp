// Names and error category for the spool's vocabulary (see types.hpp).
#include "relay/spool/types.hpp"

namespace dr::relay {

std::string_view to_string(RcptStatus s) {
    switch (s) {
        case RcptStatus::pending:
            return "pending";
        case RcptStatus::delivered:
            return "delivered";
        case RcptStatus::deferred:
            return "deferred";
        case RcptStatus::bounced:
            return "bounced";
    }
    return "?";
}

bool MessageInfo::done() const {
    for (const auto& r : rcpts) {
        if (r.status != RcptStatus::delivered && r.status != RcptStatus::bounced) return false;
    }
    return true;
}

bool MessageInfo::notice_owed() const {
    if (!notice.empty()) return false;
    for (const auto& r : rcpts) {
        if (r.status == RcptStatus::bounced) return true;
    }
    return false;
}

namespace {

class SpoolCategory : public std::error_category {
  public:
    const char* name() const noexcept override { return "spool"; }
    std::string message(int ev) const override {
        switch (static_cast<SpoolErrc>(ev)) {
            case SpoolErrc::not_found:
                return "no such queue ID";
            case SpoolErrc::corrupt:
                return "corrupt queue file";
            case SpoolErrc::locked:
                return "spool is locked by another process";
            case SpoolErrc::bad_recipient:
                return "no such recipient in message";
            case SpoolErrc::low_space:
                return "insufficient free space in spool";
            case SpoolErrc::closed:
                return "spool is closed";
            case SpoolErrc::foreign_owner:
                return "spool directory is owned by another user than the one running "
                       "([server] user)";
        }
        return "unknown spool error";
    }
};

}  // namespace

const std::error_category& spool_category() {
    static const SpoolCategory category;
    return category;
}

std::error_code make_error_code(SpoolErrc e) {
    return {static_cast<int>(e), spool_category()};
}

}  // namespace dr::relay
