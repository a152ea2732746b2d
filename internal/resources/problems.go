package resources

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a description, at its path
// ("accounts[1].config") or a line of a file ("line 12"), and what to fix.
type Problem struct {
	Path    string
	Message string
}

// Problems are everything wrong with a description; nothing is written
// while there are any.
type Problems []Problem

// Add appends a problem at path.
func (l *Problems) Add(path, format string, args ...any) {
	*l = append(*l, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *Problems) add(path, format string, args ...any) { l.Add(path, format, args...) }

// Err returns the problems as one *ProblemsError naming source ("herald.yaml",
// "request"), or nil when there are none.
func (l Problems) Err(source string) error {
	if len(l) == 0 {
		return nil
	}
	l = slices.Clone(l)
	// In file order: by section, then by item; the checks of one item
	// keep the order they ran in.
	sort.SliceStable(l, func(i, j int) bool {
		si, ii := problemPlace(l[i].Path)
		sj, ij := problemPlace(l[j].Path)
		if si != sj {
			return si < sj
		}
		return ii < ij
	})
	return &ProblemsError{Source: source, Problems: l}
}

// ProblemsError refuses a description with problems; callers map each
// problem's path to their own place (a file line, a request field).
type ProblemsError struct {
	Source   string
	Problems Problems
}

// Error lists every problem in one message.
func (e *ProblemsError) Error() string {
	var b strings.Builder
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s has %d %s; nothing was written:", e.Source, len(e.Problems), noun)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
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

// IndexPath is the path of item i of the list at path: "apps[2]".
func IndexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// FieldPath is the path of a field of the object at path: "apps[2].id".
func FieldPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func at(path string, i int) string { return IndexPath(path, i) }

func field(path, name string) string { return FieldPath(path, name) }
