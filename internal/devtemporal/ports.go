package devtemporal

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// reservePorts returns one TCP port per entry of ips, each free on that IP
// right now and all distinct.
//
// All listeners are held open together so the kernel cannot hand out the
// same port twice. Before closing each listener, one connection is made to it
// and closed from the listening side first: that leaves the port in TIME_WAIT,
// during which Linux does not give it out again for another bind to port 0
// (an explicit bind still succeeds because Go sets SO_REUSEADDR). Without
// this, parallel tests picking ports at the same moment can collide.
func reservePorts(ips ...string) (_ []int, err error) {
	listeners := make([]net.Listener, 0, len(ips))
	defer func() {
		for _, l := range listeners {
			err = errors.Join(err, l.Close())
		}
	}()
	ports := make([]int, 0, len(ips))
	for _, ip := range ips {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port on %s: %w", ip, err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range listeners {
		if err := parkInTimeWait(l); err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
	}
	return ports, nil
}

// parkInTimeWait connects to l and closes the accepted side first, so the
// listening port ends up in TIME_WAIT (see reservePorts).
func parkInTimeWait(l net.Listener) error {
	addr := l.Addr().String()
	if ip := l.Addr().(*net.TCPAddr).IP; ip.IsUnspecified() {
		// A wildcard listener is reachable on loopback.
		addr = net.JoinHostPort(loopbackFor(ip), strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	accepted, err := l.Accept()
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("accept on %s: %w", addr, err)
	}
	return errors.Join(accepted.Close(), conn.Close())
}

// holdPort binds port on ip and returns the listener, or an error naming what
// the port was meant for. Such a check is racy by nature, but the Temporal
// server and the UI server both end the process when a listener fails, so an
// early, clear error is far better than nothing.
func holdPort(what, ip string, port int) (net.Listener, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s port %d on %s is not available: %w", what, port, ip, err)
	}
	return l, nil
}

// checkPortFree is holdPort for a port that is needed only later.
func checkPortFree(what, ip string, port int) error {
	l, err := holdPort(what, ip, port)
	if err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return fmt.Errorf("release %s port %d: %w", what, port, err)
	}
	return nil
}

// loopbackFor returns the loopback address of ip's family.
func loopbackFor(ip net.IP) string {
	if ip.To4() == nil {
		return net.IPv6loopback.String()
	}
	return "127.0.0.1"
}
