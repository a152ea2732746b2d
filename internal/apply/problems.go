package apply

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// problem is one thing wrong with the file, at a YAML path
// ("accounts[1].config") or a line ("line 12").
type problem struct {
	path, msg string
}

type problemList []problem

func (l *problemList) add(path, format string, args ...any) {
	*l = append(*l, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// err lists every problem in one error, or returns nil.
func (l problemList) err(source string) error {
	if len(l) == 0 {
		return nil
	}
	l = slices.Clone(l)
	// In file order: by section, then by item; the checks of one item
	// keep the order they ran in.
	sort.SliceStable(l, func(i, j int) bool {
		si, ii := problemPlace(l[i].path)
		sj, ij := problemPlace(l[j].path)
		if si != sj {
			return si < sj
		}
		return ii < ij
	})
	var b strings.Builder
	noun := "problems"
	if len(l) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s has %d %s; nothing was written:", source, len(l), noun)
	for _, p := range l {
		b.WriteString("\n  - ")
		if p.path != "" {
			b.WriteString(p.path + ": ")
		}
		b.WriteString(p.msg)
	}
	return errors.New(b.String())
}

// problemPlace ranks a problem's path by section (in the file's usual
// order) and item index; paths without either (lines) come first.
func problemPlace(path string) (section, item int) {
	name, rest, _ := strings.Cut(path, "[")
	section = slices.Index([]string{"apps", "templates", "accounts", "channels", "rules"}, name) + 1
	if digits, _, ok := strings.Cut(rest, "]"); ok {
		item, _ = strconv.Atoi(digits)
	}
	return section, item
}

func at(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
