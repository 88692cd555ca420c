// LeaseTable: the leases between workers that keep one primary per id when
// clients disagree about who is up (R >= 2). Pure: times are passed in
// (steady-clock ns for leases, wall-clock ns for epochs).
//
// A worker serves an id as its primary (a kFlagReplicas request: a write it
// forwards, or a read) only while every replica the client named has
// granted it a lease: the replica answered a LEASE it sent at time t, which
// holds until t + kLease by the sender's clock.
//
// A worker that a client passed over (found down) is replaced by the next
// worker of the id's order only once that worker knows the passed-over
// one's lease from it has run out: kLease + kMargin after it last granted
// one (or after this worker started). It then fences the passed-over
// worker: its LEASE is refused until it comes back under an epoch newer
// than the fence (it raised its epoch and dropped what it held: see
// Service::Rejoin). A replica that did not answer a forwarded write is
// fenced at once, for it missed that write.
//
// A worker that comes before a primary in an id's order may take its lease
// from a replica the two share (it just joined, and the primary's clients
// do not know it yet). So a replica grants a worker that is new to it, or
// back under a new epoch, no lease until every other worker whose lease
// from it may hold was granted its own after the newcomer first asked: each
// grant names the replica's other holders (Holders), and a primary does not
// serve an id that one of them comes before it for (OutrankedBy). From
// that first ask on, the replica also refuses the writes forwarded by a
// primary the newcomer comes before (OutrankedBy with the sender's node).
//
// So a worker that was paused, cut off or restarted, and missed writes
// meanwhile, serves none of its old values: by the time another worker
// served in its place its lease was over, and it cannot get a new one
// without rejoining. Epochs are wall-clock times (a worker starts with
// its start time), so clocks must be in step across hosts to within
// kMargin.
//
// Thread-compatible: the Service guards it with a mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace shovel::worker {

class LeaseTable {
 public:
  using Ns = int64_t;
  static constexpr Ns kLease = 1'000'000'000;  // how long a grant holds
  static constexpr Ns kMargin = 500'000'000;   // added before taking over
  // Added to a grant in another's place before that one gets a lease: both
  // times are this worker's steady clock and the holder's, whose rates
  // agree to far better than this.
  static constexpr Ns kInPlaceMargin = 50'000'000;
  // A worker back while this one still serves a request in its place
  // (BeginInPlace) is told to ask again after about this long.
  static constexpr Ns kInPlaceDrain = 5'000'000;
  static constexpr Ns kKeep = 30'000'000'000;  // a peer not named for this long is
                                               // no longer kept leased
  // `started`: steady time this worker started (it may have granted leases
  // before a restart that it no longer remembers).
  explicit LeaseTable(Ns started) : started_(started) {}

  // ---- Leases this worker holds (it is a primary) ----
  // What a LEASE to `peer` is asked in place of, and the ask's number.
  struct AskedFor {
    std::vector<std::string> list;
    uint64_t seq = 0;
  };
  // The list for an ask of `peer`'s lease sent now: with `in_place`, the
  // workers this worker is to serve in place of (InPlaceOf); always, those
  // it serves a request in place of now (BeginInPlace). `peer` keeps the
  // list of the latest ask it saw (Request), forgetting the others, so from
  // now on this worker serves in place of no one else under `peer`'s
  // earlier grants: what they cover is narrowed to the list here.
  AskedFor AskList(const std::string& peer, Ns now, bool in_place);
  // `peer` answered OK a LEASE this worker sent at `sent_at`, asked in
  // place of `in_place_of` (workers a client passed over: see Request),
  // as ask number `seq` (AskList; 0: none). The lease then covers those
  // the asks sent since also named.
  void Granted(const std::string& peer, Ns sent_at,
               const std::vector<std::string>& in_place_of = {}, uint64_t seq = 0);
  bool Holds(const std::string& peer, Ns now) const;
  // `peer`'s grant (answered at `now`) named `holders`: the other workers
  // (endpoint, node id) whose lease from it may hold. Each is kept for
  // kLease + kMargin (a later grant does not forget one named earlier).
  void SetHolders(const std::string& peer,
                  const std::vector<std::pair<std::string, std::string>>& holders,
                  Ns now);
  // Holds a lease from `peer` that was granted in place of each of
  // `passed_over` (this worker's own endpoint, `self`, is skipped).
  bool Covers(const std::string& peer, const std::vector<std::string>& passed_over,
              const std::string& self, Ns now) const;
  // A client passed over `passed` and named `peer` as a replica: this
  // worker's leases from `peer` are asked in place of `passed` for the next
  // kLease.
  void WantInPlace(const std::string& peer, const std::string& passed, Ns now);
  // The workers this worker asks `peer`'s lease in place of now.
  std::vector<std::string> InPlaceOf(const std::string& peer, Ns now) const;
  // This worker rejoined: every lease it held is gone.
  void DropHeld() {
    held_.clear();
    covered_.clear();
    asks_.clear();
  }
  // Marks `peer` as named as a replica now (its lease is kept fresh).
  void Want(const std::string& peer, Ns now) { wanted_[peer] = now; }
  // Peers named within kKeep whose lease ends within `ahead` of `now`.
  std::vector<std::string> Renewals(Ns now, Ns ahead);

  // ---- Leases this worker grants ----
  struct Answer {
    bool granted = false;
    // First heard of, or back under a new epoch (it restarted, or rejoined
    // and dropped what it held): hand it its ids.
    bool rejoined = false;
    // Not granted for now, and not fenced: `busy` may still serve in the
    // asker's place, or the asker in place of `busy`, for `wait` ns. Empty
    // with `wait` set: this worker itself served in the asker's place, or
    // the asker is new and others have not yet heard of it (`introducing`).
    std::string busy;
    Ns wait = 0;
    bool introducing = false;
    // Granted: the other workers whose lease from this one may hold
    // (Holders), for the grant's reply.
    std::vector<std::pair<std::string, std::string>> holders;
  };
  // A LEASE from `peer` (node id `node`) at epoch `epoch`, at steady time
  // `now`.
  //
  // `in_place_of`: workers a client passed over, in whose place `peer`
  // would serve with this worker as its replica. Two workers that both
  // hold this worker's lease, one serving in the other's place, would be
  // two primaries for the same ids (clients that disagree about who is
  // up). So the two exclude each other here: the lease is granted only
  // once every one of them has surely lost its own lease from this worker,
  // and none of them gets a lease while a grant in its place may still
  // hold.
  //
  // `ask`: the sender's number for this ask (AskList; 0: none). The list of
  // an ask numbered at least as high as any seen from the sender under its
  // epoch replaces the workers it may serve in place of (it serves in place
  // of no one else from that ask on); others only add to them.
  Answer Request(const std::string& peer, const std::string& node, uint64_t epoch, Ns now,
                 const std::vector<std::string>& in_place_of = {}, uint64_t ask = 0);
  // The ns until `peer`'s lease from this worker has surely run out (0:
  // it has); changes nothing.
  Ns Remaining(const std::string& peer, Ns now) const;
  // May this worker serve in place of `peer`? 0: yes, and `peer` is fenced
  // (from wall-clock time `wall_now`; *fenced set when it was not before);
  // otherwise the ns until its lease has surely run out, or, when `peer`
  // is back (it asked for a lease within kLease, under an epoch it may be
  // granted one with), until it may be taken to be away again.
  Ns TakeOver(const std::string& peer, Ns now, Ns wall_now, bool* fenced = nullptr);
  // This worker begins to serve a request in place of each of `peers`
  // (after TakeOver said yes), and is done with it. Until every request
  // begun in a worker's place is done (its write applied here, or
  // failed), that worker gets no lease from here: the hand-over that
  // follows its grant then copies every such write. Counted, not timed,
  // so a worker that is back waits only for what is in flight.
  // `replicas`: the request's replicas (its writes are forwarded there).
  void BeginInPlace(const std::vector<std::string>& peers,
                    const std::vector<std::string>& replicas);
  void EndInPlace(const std::vector<std::string>& peers,
                  const std::vector<std::string>& replicas);
  // `peer` missed a write this worker applied: fenced now. True when it
  // was not fenced before.
  bool Fence(const std::string& peer, Ns wall_now);
  // `peer` is leaving and gave up its leases: it may be served in place of
  // at once (until it asks for a lease again).
  void Release(const std::string& peer);
  bool Fenced(const std::string& peer) const;
  // When this worker last granted `peer` a lease (steady ns); -1: never.
  Ns LastGrant(const std::string& peer) const;

  // Peers that asked for a lease within `within` of `now`, or that this
  // worker holds or wants one from (named within kKeep), whose node id is
  // known: endpoint, node id.
  std::vector<std::pair<std::string, std::string>> Recent(Ns now, Ns within) const;
  // `peer`'s node id, learnt from its answer to a LEASE.
  void SetNode(const std::string& peer, const std::string& node);
  // The first worker, not in `skip` and not this one (`self_node`), that
  // comes before this worker in `id`'s rendezvous order and may serve `id`:
  //  - a peer whose lease from this worker may still hold (Grant::MayHold;
  //    a newcomer waiting for its first grant counts), or
  //  - one named by one of `replicas` as holding its lease (SetHolders).
  // Empty: none.
  std::string OutrankedBy(std::string_view id, std::string_view self_node,
                          const std::vector<std::string>& replicas,
                          const std::vector<std::string>& skip, Ns now) const;
  // Those peers other than `asker`, for its grant: endpoint, node id.
  // Remembered as told to `asker` (Remembers).
  std::vector<std::pair<std::string, std::string>> Holders(const std::string& asker,
                                                           Ns now);

  // ---- Fenced peers this worker checks on ----
  // The fenced peers (they may have come back without asking this worker
  // for a lease: it asks them).
  std::vector<std::string> FencedPeers() const;
  // `peer` answered a LEASE with `epoch` at `now`. A fenced one is
  // unfenced (true) when the epoch is newer than the fence, else *fence is
  // what it must move past. One that is not fenced (any more) is up: this
  // worker does not serve in its place for a lease's time, as if it had
  // granted it one.
  bool Answered(const std::string& peer, uint64_t epoch, Ns now, uint64_t* fence);

 private:
  struct Grant {
    Ns at = -1;          // last grant, or answer to this worker (steady), -1: never
    Ns leased = -1;      // last grant it asked for (steady), -1: never
    Ns granted = -1;     // last grant (steady), -1: never
    Ns introduced = -1;  // first ask under its epoch (steady)
    std::string node;    // its node id, from its LEASE
    bool fenced = false;
    bool released = false;  // it gave its leases up (it is leaving)
    uint64_t epoch = 0;     // its epoch when last heard of (0: never)
    uint64_t fence = 0;     // wall-clock ns: it must come back with a newer epoch
    // Workers it was granted a lease in place of -> when (steady).
    std::map<std::string, Ns> in_place;
    uint64_t ask = 0;  // the highest ask number seen under `epoch`

    // Its lease from this worker, one it asked for, may still hold: it
    // may serve under it (Holders, OutrankedBy).
    bool MayHold(Ns now) const {
      return leased >= 0 && !fenced && !released && !node.empty() &&
             now - leased < kLease + kMargin;
    }
  };
  // A grant in `peer`'s place that may still hold: who holds it, and for
  // how long; empty when none.
  std::pair<std::string, Ns> Substituted(const std::string& peer, Ns now) const;
  // How long `peer`, which asked for a lease lately and was not granted
  // one yet, counts as back (nobody is let serve in its place); 0: not.
  Ns Back(const std::string& peer, Ns now) const;
  // How long until every other peer whose lease may hold was granted one
  // after `since` (or its lease ran out), or still remembers `peer` from
  // an earlier grant that named it (a worker back within moments of its
  // last lease, as after a quick restart, waits for no one); 0: now.
  Ns Introducing(const std::string& peer, Ns since, Ns now) const;
  // `holder` was told, with a grant, that `peer` (under its present node
  // id) holds a lease from here, and still keeps that (SetHolders).
  bool Remembers(const std::string& holder, const std::string& peer, Ns now) const;

  const Ns started_;
  std::map<std::string, Ns> held_;    // peer -> until (steady)
  std::map<std::string, Ns> wanted_;  // peer -> last named (steady)
  // peer -> the workers its held lease was granted in place of.
  std::map<std::string, std::vector<std::string>> covered_;
  // peer -> passed-over worker -> last named in place of (steady).
  std::map<std::string, std::map<std::string, Ns>> in_place_wanted_;
  // peer -> asks of its lease not yet answered OK: number -> list. Kept
  // for the last kAsksKept asks.
  std::map<std::string, std::map<uint64_t, std::vector<std::string>>> asks_;
  static constexpr size_t kAsksKept = 16;
  uint64_t next_ask_ = 0;
  // peer -> replica -> requests this worker serves in its place now, with
  // that replica ("" for none) (BeginInPlace).
  std::map<std::string, std::map<std::string, int>> in_place_serving_;
  // peer -> when it last asked for a lease under an epoch that may be
  // granted one, until it is granted (steady).
  std::map<std::string, Ns> returning_;
  std::map<std::string, Grant> grants_;
  // holder -> peer named in a grant to it -> that peer's node id, when.
  struct Told {
    std::string node;
    Ns at = 0;
  };
  std::map<std::string, std::map<std::string, Told>> told_;
  struct Holder {
    std::string node;
    Ns until = 0;  // steady
  };
  // replica -> the workers its grants named as holding its lease.
  std::map<std::string, std::map<std::string, Holder>> holders_;
};

}  // namespace shovel::worker
