// Recursive halving-doubling allreduce (Rabenseifner 2004; Thakur, Rabenseifner, Gropp 2005).
//
// With p the largest power of two <= n and rem = n - p:
//   1. fix-up: among the first 2 rem ranks, each even rank hands its data to the odd rank
//      above it and sits out; p ranks remain, numbered 0..p-1 ("new ranks").
//   2. recursive halving (reduce-scatter): log2 p rounds; in each, partners new_rank ^ mask
//      split their current range in two, each sends the half it gives up and reduces the half
//      it keeps. Afterwards each new rank holds 1/p of the result.
//   3. recursive doubling (allgather): the rounds in reverse, exchanging owned ranges.
//   4. fix-up: odd ranks hand the result back to the even rank that sat out.
// Cost: 2 log2 p rounds (+2 with the fix-up), each rank sending about 2 (p-1)/p of the data:
// few rounds, so it suits small and medium messages.
#include <vector>

#include "courier/comm/collectives/detail.h"

namespace courier::collectives {

Status allreduce_halving_doubling(Communicator& comm, MutableByteSpan data, DType dtype, ReduceOp op,
                                  const CollectiveOptions& options) {
  Op run(comm, "allreduce_halving_doubling", options, dtype, data.size());
  const int n = comm.world_size();
  const int r = comm.rank();
  if (n == 1) return Status::ok();
  const std::uint64_t tag = kTagAllreduceHalvingDoubling;
  const std::size_t count = data.size() / dtype_size(dtype);
  int p = 1;
  while (p * 2 <= n) p *= 2;
  const int rem = n - p;
  auto real_rank = [rem](int new_rank) { return new_rank < rem ? 2 * new_rank + 1 : new_rank + rem; };

  int new_rank = r - rem;
  if (r < 2 * rem) {
    if (r % 2 == 0) {
      run.send(r + 1, tag, data);
      if (Status st = run.finish_sends(); !st.is_ok()) return st;
      new_rank = -1;
    } else {
      if (Status st = run.receive_reduce(r - 1, tag, data, op); !st.is_ok()) return st;
      new_rank = r / 2;
    }
  }

  if (new_rank >= 0) {
    ElementRange mine{0, count};
    std::vector<ElementRange> levels;  // the range held before each halving round
    for (int mask = p / 2; mask >= 1; mask /= 2) {
      const int partner = real_rank(new_rank ^ mask);
      levels.push_back(mine);
      const ElementRange lower{mine.begin, mine.count / 2};
      const ElementRange upper{mine.begin + lower.count, mine.count - lower.count};
      const bool keep_lower = (new_rank & mask) == 0;
      run.send(partner, tag, elements(data, dtype, keep_lower ? upper : lower));
      mine = keep_lower ? lower : upper;
      if (Status st = run.receive_reduce(partner, tag, elements(data, dtype, mine), op); !st.is_ok()) return st;
    }
    if (op == ReduceOp::kAverage) divide_by(elements(data, dtype, mine), dtype, static_cast<std::size_t>(n));
    // Doubling receives into the halves given away while halving: those sends must be done.
    if (Status st = run.finish_sends(); !st.is_ok()) return st;
    for (int mask = 1; mask < p; mask *= 2) {
      const int partner = real_rank(new_rank ^ mask);
      const ElementRange level = levels.back();
      levels.pop_back();
      const bool have_lower = mine.begin == level.begin;
      const ElementRange other = have_lower ? ElementRange{mine.begin + mine.count, level.count - mine.count}
                                            : ElementRange{level.begin, level.count - mine.count};
      run.send(partner, tag, elements(data, dtype, mine));
      if (Status st = run.receive_into(partner, tag, elements(data, dtype, other)); !st.is_ok()) return st;
      mine = level;
    }
  }

  if (r < 2 * rem) {
    if (r % 2 == 1) {
      run.send(r - 1, tag, data);
    } else if (Status st = run.receive_into(r + 1, tag, data); !st.is_ok()) {
      return st;
    }
  }
  return run.finish_sends();
}

}  // namespace courier::collectives
