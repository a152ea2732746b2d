package wechatwork

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReceiver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Receivers
		str  string
	}{
		{"OneUser", "zhangsan", Receivers{Users: []string{"zhangsan"}}, "zhangsan"},
		{"Users", "zhangsan|lisi", Receivers{Users: []string{"zhangsan", "lisi"}}, "zhangsan|lisi"},
		{"UserPrefix", "user:zhangsan", Receivers{Users: []string{"zhangsan"}}, "zhangsan"},
		{"All", "@all", Receivers{All: true}, "@all"},
		{"AllUpperCase", "@ALL", Receivers{All: true}, "@all"},
		{"Parties", "party:2|3", Receivers{Parties: []string{"2", "3"}}, "party:2|3"},
		{"Tag", "tag:5", Receivers{Tags: []string{"5"}}, "tag:5"},
		{"Combination", "user1;party:2", Receivers{Users: []string{"user1"}, Parties: []string{"2"}}, "user1;party:2"},
		{"Everything", " a | b ; PARTY: 2 ; tag:5|6 ; c ", Receivers{Users: []string{"a", "b", "c"}, Parties: []string{"2"}, Tags: []string{"5", "6"}}, "a|b|c;party:2;tag:5|6"},
		{"Duplicates", "a|a;user:a;party:1|1", Receivers{Users: []string{"a"}, Parties: []string{"1"}}, "a;party:1"},
		{"EmptyItemsSkipped", "a||b;;", Receivers{Users: []string{"a", "b"}}, "a|b"},
		{"EmailLikeUserID", "zhang.san@corp", Receivers{Users: []string{"zhang.san@corp"}}, "zhang.san@corp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReceiver(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.str, got.String())
			again, err := ParseReceiver(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}

	many := func(prefix string, n int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = strconv.Itoa(i + 1)
		}
		return prefix + strings.Join(ids, "|")
	}
	bad := []struct {
		name, in, problem string
	}{
		{"Empty", "", "no user, department or tag"},
		{"OnlySeparators", " ; | ", "no user, department or tag"},
		{"UnknownPrefix", "dept:2", "unknown receiver prefix"},
		{"PartyNotNumber", "party:sales", "department ids must be numbers"},
		{"TagNotNumber", "tag:ops", "tag ids must be numbers"},
		{"SpaceInUserID", "zhang san", "userid"},
		{"CommaInUserID", "a,b", "userid"},
		{"TooManyUsers", many("user:u", MaxUsers+1), "at most 1000"},
		{"TooManyParties", many("party:", MaxParties+1), "at most 100"},
		{"TooManyTags", many("tag:", MaxTags+1), "at most 100"},
	}
	for _, tc := range bad {
		t.Run("Err"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseReceiver(tc.in)
			require.ErrorContains(t, err, tc.problem)
		})
	}

	t.Run("AtLimits", func(t *testing.T) {
		t.Parallel()
		r, err := ParseReceiver(many("party:", MaxParties) + ";" + many("tag:", MaxTags))
		require.NoError(t, err)
		require.Len(t, r.Parties, MaxParties)
		require.Len(t, r.Tags, MaxTags)
	})
}

func TestParseMentions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Mentions
	}{
		{"None", "", Mentions{}},
		{"Blank", " , ", Mentions{}},
		{"MobileAndAll", "@13800000000,@all", Mentions{UserIDs: []string{"@all"}, Mobiles: []string{"13800000000"}}},
		{"UserIDs", "zhangsan|@lisi", Mentions{UserIDs: []string{"zhangsan", "lisi"}}},
		{"PlusMobile", "+8613800000000", Mentions{Mobiles: []string{"+8613800000000"}}},
		{"Duplicates", "@all,@ALL,138,@138,a,@a", Mentions{UserIDs: []string{"@all", "a"}, Mobiles: []string{"138"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMentions(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, len(tc.want.UserIDs)+len(tc.want.Mobiles) == 0, got.Empty())
		})
	}
	for _, in := range []string{"zhang san", "@", "a;b"} {
		t.Run("Err/"+in, func(t *testing.T) {
			t.Parallel()
			_, err := ParseMentions(in)
			require.Error(t, err)
		})
	}
}
