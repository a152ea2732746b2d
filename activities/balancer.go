package activities

import (
	"sort"
	"sync"
)

// Candidate is an account the balancer may pick, with its weight in the
// channel's pool.
type Candidate struct {
	AccountID int64
	Weight    int
}

// Balancer picks accounts by smooth weighted round-robin, one rotation per
// channel. Its state lives in the worker process: each replica balances on
// its own, which keeps the overall split close to the weights without any
// shared counter.
type Balancer struct {
	mu      sync.Mutex
	current map[int64]map[int64]int // channel -> account -> current weight
}

// NewBalancer returns an empty balancer.
func NewBalancer() *Balancer {
	return &Balancer{current: make(map[int64]map[int64]int)}
}

// Pick returns the next account of channelID among candidates, or false when
// there is none with a positive weight. Candidates may change between calls
// (accounts disabled or already failed for a message); accounts no longer
// offered keep their state for when they come back.
func (b *Balancer) Pick(channelID int64, candidates []Candidate) (int64, bool) {
	cands := make([]Candidate, 0, len(candidates))
	for _, c := range candidates {
		if c.Weight > 0 {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return 0, false
	}
	// A fixed order makes ties go the same way on every replica.
	sort.Slice(cands, func(i, j int) bool { return cands[i].AccountID < cands[j].AccountID })

	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.current[channelID]
	if cur == nil {
		cur = make(map[int64]int)
		b.current[channelID] = cur
	}
	total := 0
	best := -1
	for i, c := range cands {
		cur[c.AccountID] += c.Weight
		total += c.Weight
		if best < 0 || cur[c.AccountID] > cur[cands[best].AccountID] {
			best = i
		}
	}
	chosen := cands[best].AccountID
	cur[chosen] -= total
	return chosen, true
}
