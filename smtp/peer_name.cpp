// Postfix's peer names (see peer_name.hpp).
#include "smtp/peer_name.hpp"

namespace dr::smtp {

std::string peer_name(std::string_view host, std::string_view addr) {
    std::string out;
    out.reserve(host.size() + addr.size() + 2);
    out.append(host).append("[").append(addr).append("]");
    return out;
}

std::string peer_name(std::string_view host, std::string_view addr, std::uint16_t port) {
    return peer_name(host, addr) + ":" + std::to_string(port);
}

}  // namespace dr::smtp
