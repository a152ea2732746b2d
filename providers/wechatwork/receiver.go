package wechatwork

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// WeCom's limits on one application message's receivers.
const (
	MaxUsers   = 1000
	MaxParties = 100
	MaxTags    = 100
)

// All is the userid that addresses every member in the application's
// visible range, and, in a robot mention, everyone in the group.
const All = "@all"

// Receivers is where one application message goes.
type Receivers struct {
	// All sends to every member the application can see; the other fields
	// are then ignored, as WeCom ignores them.
	All     bool
	Users   []string
	Parties []string
	Tags    []string
}

// ParseReceiver reads a receiver string of an application message:
// segments separated by ";", each a "|"-separated list of ids, with a
// prefix saying what the ids are:
//
//	user1|user2            members by userid ("user:" prefix optional)
//	@all                   every member the application can see
//	party:2|3              departments by id
//	tag:5                  tags by id
//	user1;party:2|3;tag:5  any combination
//
// Spaces around ids are ignored, repeated ids are dropped, department and
// tag ids must be numbers. The error says what is wrong without quoting
// the receiver.
func ParseReceiver(s string) (Receivers, error) {
	var r Receivers
	seen := map[string]bool{}
	for seg := range strings.SplitSeq(s, ";") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		kind, list := "user", seg
		if k, rest, ok := strings.Cut(seg, ":"); ok {
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "user", "party", "tag":
				kind, list = strings.ToLower(strings.TrimSpace(k)), rest
			default:
				return Receivers{}, fmt.Errorf("unknown receiver prefix (want user:, party: or tag:)")
			}
		}
		for id := range strings.SplitSeq(list, "|") {
			id = strings.TrimSpace(id)
			if id == "" {
				continue
			}
			if seen[kind+":"+id] {
				continue
			}
			seen[kind+":"+id] = true
			switch kind {
			case "user":
				if strings.EqualFold(id, All) {
					r.All = true
					continue
				}
				if !validUserID(id) {
					return Receivers{}, errors.New("a userid contains spaces, control characters or separators")
				}
				r.Users = append(r.Users, id)
			case "party":
				if !isDigits(id) {
					return Receivers{}, errors.New("department ids must be numbers")
				}
				r.Parties = append(r.Parties, id)
			case "tag":
				if !isDigits(id) {
					return Receivers{}, errors.New("tag ids must be numbers")
				}
				r.Tags = append(r.Tags, id)
			}
		}
	}
	switch {
	case !r.All && len(r.Users) == 0 && len(r.Parties) == 0 && len(r.Tags) == 0:
		return Receivers{}, errors.New("no user, department or tag given")
	case len(r.Users) > MaxUsers:
		return Receivers{}, fmt.Errorf("%d users, WeCom takes at most %d in one message", len(r.Users), MaxUsers)
	case len(r.Parties) > MaxParties:
		return Receivers{}, fmt.Errorf("%d departments, WeCom takes at most %d in one message", len(r.Parties), MaxParties)
	case len(r.Tags) > MaxTags:
		return Receivers{}, fmt.Errorf("%d tags, WeCom takes at most %d in one message", len(r.Tags), MaxTags)
	}
	return r, nil
}

// String renders r in the receiver syntax ParseReceiver reads.
func (r Receivers) String() string {
	if r.All {
		return All
	}
	var segs []string
	if len(r.Users) > 0 {
		segs = append(segs, strings.Join(r.Users, "|"))
	}
	if len(r.Parties) > 0 {
		segs = append(segs, "party:"+strings.Join(r.Parties, "|"))
	}
	if len(r.Tags) > 0 {
		segs = append(segs, "tag:"+strings.Join(r.Tags, "|"))
	}
	return strings.Join(segs, ";")
}

// Mentions are the people a robot's message @-mentions.
type Mentions struct {
	// UserIDs are members by userid; All mentions everyone in the group.
	UserIDs []string
	// Mobiles are members by the mobile number of their WeCom account.
	Mobiles []string
}

// Empty reports whether m mentions nobody.
func (m Mentions) Empty() bool { return len(m.UserIDs) == 0 && len(m.Mobiles) == 0 }

// ParseMentions reads the receiver string of a robot message: who to
// @-mention, as a list separated by "," or "|". An entry of digits (with an
// optional leading "+") is a mobile number, "@all" is everyone, anything
// else is a userid; a leading "@" on an entry is dropped. An empty string
// mentions nobody, as a robot needs no receiver:
//
//	@13800000000,@all
//	zhangsan|lisi
func ParseMentions(s string) (Mentions, error) {
	var m Mentions
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(strings.ReplaceAll(s, "|", ","), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id := strings.TrimPrefix(entry, "@")
		switch {
		case strings.EqualFold(entry, All):
			if !seen["all"] {
				seen["all"] = true
				m.UserIDs = append(m.UserIDs, All)
			}
		case isMobile(id):
			if !seen["mobile:"+id] {
				seen["mobile:"+id] = true
				m.Mobiles = append(m.Mobiles, id)
			}
		case validUserID(id):
			if !seen["user:"+id] {
				seen["user:"+id] = true
				m.UserIDs = append(m.UserIDs, id)
			}
		default:
			return Mentions{}, errors.New("a mention is neither a mobile number, a userid nor @all")
		}
	}
	return m, nil
}

// validUserID accepts what can be a WeCom userid: printable, no spaces,
// none of the separators of the receiver syntax. WeCom checks the rest.
func validUserID(id string) bool {
	if strings.ContainsAny(id, ";|,:") {
		return false
	}
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return id != ""
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func isMobile(s string) bool {
	return isDigits(strings.TrimPrefix(s, "+"))
}
