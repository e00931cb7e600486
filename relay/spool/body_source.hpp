// A queued message's body as a smtp::MessageSource, read from its queue file in pieces on the
// AsyncSpool's pool: the event loop never waits for the disk, and a message in flight holds one
// piece in memory whatever its size. The CRC is summed as the pieces go by and the end (the
// empty piece after which the client sends the final ".") is handed out only once it matched,
// so a body damaged on disk, or one that cannot be read half-way, ends in nullopt and the
// transaction is dropped before "." (never delivered as complete).
// Entry points: check_body / check_bodies (before an attempt: the CRC, and the SIZE to
// announce; check_bodies does a whole batch in one pool job), SpoolBodySource (one per
// transaction). Errors are values, as Spool::read_body's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "relay/spool/async_spool.hpp"
#include "smtp/client_session.hpp"

namespace dr::relay {

inline constexpr std::size_t kBodyPiece = 256 * 1024;

struct BodyFacts {
    std::uint64_t size = 0;       // octets in the queue file
    std::uint64_t crlf_size = 0;  // with every line end CRLF: the RFC 1870 SIZE
};

struct BodyCheck {
    std::error_code ec;  // SpoolErrc::corrupt: damaged (CRC); errno code: cannot be read now
    BodyFacts facts;     // valid when !ec
};

// Reads the whole body once, in pieces, on the pool: its CRC and its CRLF size.
smtp::awaitable<BodyCheck> check_body(AsyncSpool& spool, std::string id,
                                      std::size_t piece = kBodyPiece);

// check_body for each of `ids`, in one pool job. (Keeping the small bodies for sending was
// measured twice: no CPU gain, about 10 MiB more PSS.)
smtp::awaitable<std::vector<BodyCheck>> check_bodies(AsyncSpool& spool,
                                                     std::vector<std::string> ids,
                                                     std::size_t piece = kBodyPiece);

class SpoolBodySource : public smtp::MessageSource {
  public:
    // `facts` from check_body: a body of another size now is damage. When next() fails, its
    // error is also stored in *failure (if given), which outlives the source.
    SpoolBodySource(AsyncSpool& spool, std::string id, BodyFacts facts,
                    std::shared_ptr<std::error_code> failure = nullptr,
                    std::size_t piece = kBodyPiece);
    std::uint64_t size() const override { return facts_.crlf_size; }
    smtp::awaitable<std::optional<std::string_view>> next() override;
    // Why next() gave nullopt: SpoolErrc::corrupt (damaged) or an errno code; none before.
    std::error_code error() const;

  private:
    struct State;  // shared with the read on the pool, which may outlive a destroyed source
    BodyFacts facts_;
    std::shared_ptr<State> st_;
    AsyncSpool& spool_;
    std::shared_ptr<std::error_code> failure_;
};

// Octets that `piece` adds to the CRLF size (a bare LF counts 2); `after_cr` carries whether
// the previous piece ended in CR.
std::uint64_t crlf_octets(std::string_view piece, bool& after_cr);

}  // namespace dr::relay
