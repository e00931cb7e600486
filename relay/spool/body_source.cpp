// Streaming a queued body from the spool file (see body_source.hpp).
#include "relay/spool/body_source.hpp"

#include <algorithm>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <utility>

namespace dr::relay {

std::uint64_t crlf_octets(std::string_view piece, bool& after_cr) {
    std::uint64_t n = piece.size();
    for (std::size_t pos = 0; pos < piece.size();) {
        const void* hit = std::memchr(piece.data() + pos, '\n', piece.size() - pos);
        if (!hit) break;
        auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - piece.data());
        if (at == 0 ? !after_cr : piece[at - 1] != '\r') ++n;
        pos = at + 1;
    }
    if (!piece.empty()) after_cr = piece.back() == '\r';
    return n;
}

namespace {

// Runs on the pool: one pass over the body, one piece in memory at a time.
BodyCheck scan(Spool& spool, const std::string& id, std::size_t piece) {
    BodyCheck out;
    auto body = spool.open_body(id, out.ec);
    if (!body) return out;
    out.facts.size = body->size();
    std::string buf;
    bool after_cr = false;
    while (body->position() < body->size()) {
        if ((out.ec = body->read(piece, buf))) return out;
        out.facts.crlf_size += crlf_octets(buf, after_cr);
    }
    out.ec = body->check();
    return out;
}

std::vector<BodyCheck> scan_all(Spool& spool, const std::vector<std::string>& ids,
                                std::size_t piece) {
    std::vector<BodyCheck> out;
    out.reserve(ids.size());
    for (const auto& id : ids) out.push_back(scan(spool, id, piece));
    return out;
}

}  // namespace

smtp::awaitable<BodyCheck> check_body(AsyncSpool& spool, std::string id, std::size_t piece) {
    // A named lambda: GCC 12 mishandles one with captures built inside a co_await expression.
    auto job = [&spool, id = std::move(id), piece] { return scan(spool.spool(), id, piece); };
    co_return co_await spool.async_call<BodyCheck>(std::move(job), boost::asio::use_awaitable);
}

smtp::awaitable<std::vector<BodyCheck>> check_bodies(AsyncSpool& spool,
                                                     std::vector<std::string> ids,
                                                     std::size_t piece) {
    auto job = [&spool, ids = std::move(ids), piece] {  // named: see check_body
        return scan_all(spool.spool(), ids, piece);
    };
    co_return co_await spool.async_call<std::vector<BodyCheck>>(std::move(job),
                                                                boost::asio::use_awaitable);
}

struct SpoolBodySource::State {
    Spool& spool;
    std::string id;
    std::uint64_t size;
    std::size_t piece;
    std::unique_ptr<BodyReader> reader;
    std::string buf;  // the piece handed out last
    std::error_code ec;
    bool last = false;  // buf holds the last piece, its CRC already matched
    bool ended = false;

    // On the pool: the next piece into buf; empty (after the CRC matched) at the end. With the
    // last piece the CRC is checked and the descriptor closed at once (a small body costs one
    // trip to the pool, not two): a damaged body fails before its last piece is handed out.
    std::error_code step() {
        if (!reader) {
            std::error_code oec;
            reader = spool.open_body(id, oec);
            if (!reader) return oec;
            if (reader->size() != size) return SpoolErrc::corrupt;
        }
        if (reader->position() < reader->size()) {
            if (auto rec = reader->read(piece, buf)) return rec;
            if (reader->position() < reader->size()) return {};
            last = true;
        } else {
            buf.clear();
        }
        auto cec = reader->check();
        reader.reset();  // the descriptor is closed here, on the pool
        return cec;
    }
};

SpoolBodySource::SpoolBodySource(AsyncSpool& spool, std::string id, BodyFacts facts,
                                 std::shared_ptr<std::error_code> failure, std::size_t piece)
    : facts_(facts),
      st_(std::make_shared<State>(State{spool.spool(),
                                        std::move(id),
                                        facts.size,
                                        piece ? piece : kBodyPiece,
                                        nullptr,
                                        {},
                                        {},
                                        false,
                                        false})),
      spool_(spool),
      failure_(std::move(failure)) {}

smtp::awaitable<std::optional<std::string_view>> SpoolBodySource::next() {
    auto st = st_;
    if (st->ec) co_return std::nullopt;
    if (st->ended) co_return std::string_view();
    if (st->last) {
        st->ended = true;
        co_return std::string_view();
    }
    auto job = [st] { return st->step(); };  // named: see check_body
    st->ec =
        co_await spool_.async_call<std::error_code>(std::move(job), boost::asio::use_awaitable);
    if (st->ec) {
        if (failure_) *failure_ = st->ec;
        co_return std::nullopt;
    }
    st->ended = st->buf.empty();
    co_return std::string_view(st->buf);
}

std::error_code SpoolBodySource::error() const {
    return st_->ec;
}

}  // namespace dr::relay
