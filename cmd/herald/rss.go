package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// peakRSS returns the peak resident set size of a process in bytes: the
// kernel's VmHWM ("high water mark") in /proc/<pid>/status, which Linux
// keeps for the life of the process.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak RSS of process %d: VmHWM %q: %w", pid, rest, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("peak RSS of process %d: %w", pid, err)
	}
	return 0, fmt.Errorf("peak RSS of process %d: no VmHWM in its status", pid)
}

// formatMiB prints bytes in MiB.
func formatMiB(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// printPeakRSS prints the peak RSS of this process and of pids. A process
// whose figure cannot be read (gone, or not Linux) is said so, not an
// error: the other figures stand.
func printPeakRSS(out io.Writer, pids []int) error {
	fmt.Fprintln(out, "\npeak RSS (VmHWM):")
	line := func(pid int, what string) {
		if rss, err := peakRSS(pid); err != nil {
			fmt.Fprintf(out, "  pid %-8d %-10s %s\n", pid, "unknown", what)
		} else {
			fmt.Fprintf(out, "  pid %-8d %-10s %s\n", pid, formatMiB(rss), what)
		}
	}
	line(os.Getpid(), "this process: API, worker, sweeper, embedded Temporal server, provider fakes")
	for _, pid := range pids {
		line(pid, "--watch-pid")
	}
	return nil
}
