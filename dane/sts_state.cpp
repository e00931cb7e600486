// See sts_state.hpp.
#include "dane/sts_state.hpp"

namespace dr::dane {
namespace {

const StsCached* fresh_cache(const std::optional<StsCached>& cached, std::int64_t now) {
    return cached && cached->fresh(now) ? &*cached : nullptr;
}

// The cached policy, if fresh, as the outcome of a failure; else no policy.
StsOutcome fall_back(const std::optional<StsCached>& cached, std::int64_t now, std::string failure,
                     std::string why) {
    StsOutcome o;
    if (auto c = fresh_cache(cached, now)) o.apply = c->policy;
    o.failure = std::move(failure);
    o.why = std::move(why);
    return o;
}

}  // namespace

StsTxt sts_txt_from(const Lookup<std::string>& lookup) {
    using Kind = StsTxt::Kind;
    if (lookup.security == Security::bogus) return {Kind::failed, {}, "bogus: " + lookup.why};
    if (lookup.outcome == Outcome::error || lookup.security == Security::failure)
        return {Kind::failed, {}, lookup.why.empty() ? "lookup failed" : lookup.why};
    if (lookup.outcome == Outcome::nxdomain) return {Kind::none, {}, "NXDOMAIN"};
    if (lookup.outcome == Outcome::nodata) return {Kind::none, {}, "no TXT record"};
    if (lookup.malformed) return {Kind::failed, {}, "malformed TXT record"};
    auto chosen = choose_sts_record(lookup.records);
    if (!chosen) return {Kind::none, {}, chosen.error};
    return {Kind::record, chosen.value->id, {}};
}

StsStep sts_first_step(const StsTxt& txt, const std::optional<StsCached>& cached,
                       std::int64_t now) {
    const StsCached* c = fresh_cache(cached, now);
    if (txt.kind == StsTxt::Kind::record) {
        if (c && c->id == txt.id) return {StsStep::Do::apply_cached, true};
        return {StsStep::Do::fetch, false};  // new id, or nothing fresh cached
    }
    // No record or a failed lookup: a fresh cached policy still applies until it expires
    // (RFC 8461 §5.1; §8.3 gives the domain the way to withdraw it early: a policy of
    // mode none, fetched under a new id).
    if (c) return {StsStep::Do::apply_cached, false};
    return {StsStep::Do::no_policy, false};
}

StsOutcome sts_after_fetch(const std::string& id, const StsFetch& fetch,
                           const std::optional<StsCached>& cached, std::int64_t now) {
    if (fetch.kind == StsFetch::Kind::webpki_error)
        return fall_back(cached, now, "sts-webpki-invalid", fetch.why);
    if (fetch.kind == StsFetch::Kind::fetch_error)
        return fall_back(cached, now, "sts-policy-fetch-error", fetch.why);
    auto parsed = parse_sts_policy(fetch.body);
    if (!parsed) return fall_back(cached, now, "sts-policy-invalid", parsed.error);
    StsOutcome o;
    o.store = StsCached{id, now, *parsed.value, fetch.body};
    if (parsed.value->mode != StsMode::none) o.apply = std::move(*parsed.value);
    return o;
}

}  // namespace dr::dane
