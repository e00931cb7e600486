// The outcome of an SMTP step as a value (DESIGN §3.3): ok, temporary or permanent, with an
// RFC 3463 status, Postfix's reason text and the remote reply. Entry point: DeliveryStatus.
// "temporary" means retry later (or try the next MX host); "permanent" means bounce.
#pragma once

#include <string>

namespace dr::smtp {

struct DeliveryStatus {
    enum class Kind { ok, temporary, permanent };

    Kind kind = Kind::ok;
    std::string dsn = "2.0.0";  // RFC 3463 "x.y.z"
    std::string reason;         // the text Postfix puts in status=...(<reason>)
    std::string remote_reply;   // "550 5.1.1 ..." when the peer said it, else empty

    bool ok() const { return kind == Kind::ok; }
    bool temporary() const { return kind == Kind::temporary; }
    bool permanent() const { return kind == Kind::permanent; }

    static DeliveryStatus success(std::string reason, std::string reply = {}) {
        return {Kind::ok, "2.0.0", std::move(reason), std::move(reply)};
    }
    static DeliveryStatus temp(std::string dsn, std::string reason) {
        return {Kind::temporary, std::move(dsn), std::move(reason), {}};
    }
    static DeliveryStatus perm(std::string dsn, std::string reason) {
        return {Kind::permanent, std::move(dsn), std::move(reason), {}};
    }
};

}  // namespace dr::smtp
