package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// picks returns the next n picks of channel among cands, by account name.
func picks(t *testing.T, b *Balancer, channel int64, cands []Candidate, n int) string {
	t.Helper()
	names := map[int64]string{1: "a", 2: "b", 3: "c"}
	out := ""
	for range n {
		id, ok := b.Pick(channel, cands)
		require.True(t, ok)
		out += names[id]
	}
	return out
}

func TestBalancer(t *testing.T) {
	t.Parallel()
	a, b, c := Candidate{AccountID: 1, Weight: 5}, Candidate{AccountID: 2, Weight: 1}, Candidate{AccountID: 3, Weight: 1}

	t.Run("SmoothWeighted", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		// The classic smooth weighted round-robin order, twice over: the
		// heavy account never takes every pick of a stretch.
		require.Equal(t, "aabacaa"+"aabacaa", picks(t, bal, 1, []Candidate{a, b, c}, 14))
	})

	t.Run("OrderOfCandidatesIrrelevant", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		require.Equal(t, "aabacaa", picks(t, bal, 1, []Candidate{c, a, b}, 7))
	})

	t.Run("ChannelsRotateApart", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		require.Equal(t, "aa", picks(t, bal, 1, []Candidate{a, b, c}, 2))
		require.Equal(t, "aabacaa", picks(t, bal, 2, []Candidate{a, b, c}, 7))
		require.Equal(t, "bacaa", picks(t, bal, 1, []Candidate{a, b, c}, 5))
	})

	t.Run("EqualWeightsAlternate", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		one := []Candidate{{AccountID: 1, Weight: 1}, {AccountID: 2, Weight: 1}}
		require.Equal(t, "ababab", picks(t, bal, 1, one, 6))
	})

	t.Run("SkippedAccountReturns", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		ab := []Candidate{{AccountID: 1, Weight: 1}, {AccountID: 2, Weight: 1}}
		require.Equal(t, "a", picks(t, bal, 1, ab, 1))
		// b failed for a message, or was disabled: only a is offered.
		require.Equal(t, "aaa", picks(t, bal, 1, ab[:1], 3))
		// b is back and is owed its turn.
		require.Equal(t, "bab", picks(t, bal, 1, ab, 3))
	})

	t.Run("NonPositiveWeightsIgnored", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		cands := []Candidate{{AccountID: 1, Weight: 0}, {AccountID: 2, Weight: -3}, {AccountID: 3, Weight: 2}}
		require.Equal(t, "ccc", picks(t, bal, 1, cands, 3))
	})

	t.Run("NoCandidate", func(t *testing.T) {
		t.Parallel()
		bal := NewBalancer()
		_, ok := bal.Pick(1, nil)
		require.False(t, ok)
		_, ok = bal.Pick(1, []Candidate{{AccountID: 1, Weight: 0}})
		require.False(t, ok)
	})

	t.Run("PickAccountActivity", func(t *testing.T) {
		t.Parallel()
		w := setup(t)
		var got []int64
		for range 7 {
			id, err := w.acts.PickAccount(context.Background(), PickInput{ChannelID: 3, Candidates: []Candidate{a, b, c}})
			require.NoError(t, err)
			got = append(got, id)
		}
		require.Equal(t, []int64{1, 1, 2, 1, 3, 1, 1}, got)

		id, err := w.acts.PickAccount(context.Background(), PickInput{ChannelID: 3})
		require.NoError(t, err)
		require.Zero(t, id, "no candidate picks nobody")
	})
}
