// Package traffic holds the checks that decide whether and when a message
// may go out: its expiry and its channel's quiet hours. They are pure
// functions of their inputs, so the API (at accept), herald apply (at
// validation) and the plan loader (at send) all decide the same way.
package traffic

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	// The binary carries its own time zone database, so quiet hours do
	// not depend on the host's /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/heraldhq/herald/store"
)

// QuietWindow is a validated daily quiet period: from Start to End minutes
// after local midnight in Location, crossing midnight when End < Start.
type QuietWindow struct {
	Start, End int
	Location   *time.Location
}

// QuietHoursError is an unusable quiet-hours setting: Field ("start",
// "end" or "time_zone") says which part, Message what is wrong with it.
type QuietHoursError struct {
	Field   string
	Message string
}

func (e *QuietHoursError) Error() string { return "quiet_hours." + e.Field + ": " + e.Message }

// ParseQuietHours validates quiet hours as configured. Start and End are
// "HH:MM" (24-hour clock), different from each other; TimeZone is an IANA
// name such as "Asia/Shanghai". The error is a *QuietHoursError.
func ParseQuietHours(qh store.QuietHours) (QuietWindow, error) {
	start, err := clockMinutes(qh.Start)
	if err != nil {
		return QuietWindow{}, &QuietHoursError{Field: "start", Message: err.Error()}
	}
	end, err := clockMinutes(qh.End)
	if err != nil {
		return QuietWindow{}, &QuietHoursError{Field: "end", Message: err.Error()}
	}
	if start == end {
		return QuietWindow{}, &QuietHoursError{Field: "end", Message: fmt.Sprintf("start and end are both %s; remove quiet_hours to send at any time", qh.Start)}
	}
	if strings.TrimSpace(qh.TimeZone) == "" {
		return QuietWindow{}, &QuietHoursError{Field: "time_zone", Message: "is required (an IANA name such as Asia/Shanghai)"}
	}
	loc, err := time.LoadLocation(qh.TimeZone)
	if err != nil || qh.TimeZone == "Local" {
		return QuietWindow{}, &QuietHoursError{Field: "time_zone", Message: fmt.Sprintf("%q is not an IANA time zone name (such as Asia/Shanghai)", qh.TimeZone)}
	}
	return QuietWindow{Start: start, End: end, Location: loc}, nil
}

// clockMinutes parses "HH:MM" into minutes after midnight.
func clockMinutes(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day as HH:MM (e.g. 21:00)", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day as HH:MM (e.g. 21:00)", s)
	}
	return hh*60 + mm, nil
}

// Opening returns when the quiet period that now falls in ends, and false
// when now is outside the quiet period (a message may go at once).
func (w QuietWindow) Opening(now time.Time) (time.Time, bool) {
	local := now.In(w.Location)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	var quiet, tomorrow bool
	if w.Start < w.End {
		quiet = m >= w.Start && m < w.End
	} else {
		quiet = m >= w.Start || m < w.End
		tomorrow = m >= w.Start
	}
	if !quiet {
		return time.Time{}, false
	}
	if tomorrow {
		d++
	}
	// time.Date normalises the day overflow and, on a day whose clock
	// jumps, the missing minute.
	return time.Date(y, mo, d, w.End/60, w.End%60, 0, 0, w.Location), true
}
