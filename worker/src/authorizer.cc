#include "authorizer.h"

namespace shovel::worker {

Role RequiredRole(wire::Op op, uint16_t flags) {
  if (flags & wire::kFlagReplica) return Role::kAdmin;  // a primary's forward
  switch (op) {
    case wire::Op::kPing:
    case wire::Op::kGet:
    case wire::Op::kStat:
    case wire::Op::kList:
    case wire::Op::kNodeStats:
    case wire::Op::kBatch:  // its items are checked one by one
    case wire::Op::kRenewWatches:
      return Role::kReadOnly;
    case wire::Op::kEpoch:
    case wire::Op::kHandover:
    case wire::Op::kLease:
    case wire::Op::kTransfer:
    // Makes the worker leave the cluster (shovelctl drain): a change to the
    // cluster, not to data.
    case wire::Op::kDrain:
      return Role::kAdmin;
    default:
      return Role::kReadWrite;
  }
}

namespace {

int Rank(Role r) {
  switch (r) {
    case Role::kReadOnly:
      return 0;
    case Role::kReadWrite:
      return 1;
    case Role::kAdmin:
      return 2;
  }
  return 0;
}

Status Denied(Role have, wire::Op op, uint16_t flags) {
  if (flags & wire::kFlagReplica) {
    return Status::PermissionDenied("this key may not send a replica's " +
                                    std::string(wire::OpName(op)) +
                                    " (workers send those to each other; it needs the "
                                    "admin role)");
  }
  if (have == Role::kReadOnly) {
    return Status::PermissionDenied("read-only key cannot write (" +
                                    std::string(wire::OpName(op)) + ")");
  }
  return Status::PermissionDenied("this key may not send " +
                                  std::string(wire::OpName(op)) +
                                  " (it needs the admin role)");
}

}  // namespace

Result<std::unique_ptr<Authorizer>> Authorizer::Load(const std::string& path,
                                                     const std::string& own_key,
                                                     Log log) {
  std::unique_ptr<Authorizer> a(new Authorizer(path, own_key, std::move(log)));
  SHOVEL_ASSIGN_OR_RETURN(Keys keys, ReadAuthorizedKeysFile(path));
  keys[own_key] = Role::kAdmin;
  a->keys_ = std::make_shared<const Keys>(std::move(keys));
  return a;
}

Status Authorizer::Reload() {
  auto keys = ReadAuthorizedKeysFile(path_);
  if (!keys.ok()) {
    if (log_)
      log_(log::Level::kWarn,
           "authorized keys not reloaded, the old ones stay: " + keys.status().message());
    return keys.status();
  }
  const size_t n = keys->size();  // as in the file (the own key may be there too)
  (*keys)[own_key_] = Role::kAdmin;
  {
    std::lock_guard<std::mutex> l(mu_);
    keys_ = std::make_shared<const Keys>(std::move(*keys));
  }
  if (log_)
    log_(log::Level::kInfo, "reloaded " + path_ + ": " + std::to_string(n) + " keys");
  return Status::Ok();
}

std::optional<Role> Authorizer::RoleOf(std::string_view key) const {
  std::shared_ptr<const Keys> keys;
  {
    std::lock_guard<std::mutex> l(mu_);
    keys = keys_;
  }
  auto it = keys->find(std::string(key));
  if (it == keys->end()) return std::nullopt;
  return it->second;
}

Status Authorizer::Allow(std::string_view key, const wire::Header& h,
                         std::string_view batch_body) const {
  auto role = RoleOf(key);
  if (!role) {
    return Status::PermissionDenied(
        "worker refused this key (not in its authorized keys)");
  }
  if (*role == Role::kAdmin) return Status::Ok();
  if (Rank(*role) < Rank(RequiredRole(h.op, h.flags)))
    return Denied(*role, h.op, h.flags);
  // Every item of a BATCH needs what it would need on its own: a
  // read-only key writes nothing, and only workers send replicas' writes.
  if (h.op != wire::Op::kBatch) return Status::Ok();
  wire::BatchReader reader(batch_body, h.aux);
  wire::Frames item;
  if (!reader.CheckCount().ok()) return Status::Ok();  // answered kProtocol later
  for (uint64_t i = 0; i < h.aux; ++i) {
    if (!reader.Next(&item).ok() || item.empty()) return Status::Ok();
    auto ih = wire::DecodeHeader(item[0]);
    if (!ih.ok()) return Status::Ok();
    if (Rank(*role) < Rank(RequiredRole(ih->op, ih->flags))) {
      return Denied(*role, ih->op, ih->flags);
    }
  }
  return Status::Ok();
}

void Authorizer::Refused(const std::string& peer, std::string_view key,
                         const std::string& why) {
  uint64_t n = refused_.fetch_add(1) + 1;
  if (!log_) return;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> l(log_mu_);
    auto it = logged_.find(peer);
    if (it != logged_.end() && now - it->second < std::chrono::minutes(1)) return;
    if (logged_.size() > 10000) logged_.clear();  // bounded under a flood
    logged_[peer] = now;
  }
  log_(log::Level::kWarn, "refused " + peer +
                              (key.empty() ? "" : " (key " + std::string(key) + ")") +
                              ": " + why + "; " + std::to_string(n) + " refusals so far");
}

}  // namespace shovel::worker
