package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// startUI runs the Web UI on st.UIPort and waits until it serves requests.
// The UI server has its own Echo instance and proxies /api/v1 to the
// frontend over gRPC; its assets are embedded in the module.
func (s *Server) startUI(ctx context.Context, st *settings) error {
	// The UI server ends the process if it cannot listen, so check once more
	// right before it tries: time has passed since the ports were picked.
	if err := checkPortFree("UI", st.IP, st.UIPort); err != nil {
		return fmt.Errorf("devtemporal: %w", err)
	}
	host := st.IP
	if net.ParseIP(host).To4() == nil {
		// The UI server joins host and port with a plain colon.
		host = "[" + host + "]"
	}
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                st.UIPort,
		TemporalGRPCAddress: s.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    st.Namespace,
		// Plain HTTP on localhost: a Secure CSRF cookie would never be sent.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
		// No calls to the internet for news or release checks.
		DisableNewsFetch: true,
		// The browser calls the codec itself, with its cookies for the
		// codec's origin: that is how the codec knows who is asking.
		Codec: uiconfig.Codec{Endpoint: st.CodecEndpoint, IncludeCredentials: st.CodecEndpoint != ""},
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("devtemporal: UI config: %w", err)
	}
	var ui *uiserver.Server
	err := recoverFatal(func() error {
		// NewServer panics on configuration errors.
		ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(cfg))
		return nil
	})
	if err != nil {
		return fmt.Errorf("devtemporal: create UI server: %w", err)
	}
	s.ui = ui
	s.uiDone = make(chan error, 1)
	go func() {
		// Start blocks until Stop; it returns nil when stopped.
		s.uiDone <- ui.Start()
		close(s.uiDone)
	}()
	s.uiAddr = "http://" + net.JoinHostPort(st.dialHost, strconv.Itoa(st.UIPort))
	return s.waitUI(ctx)
}

// waitUI polls the UI health endpoint until it answers 200.
func (s *Server) waitUI(ctx context.Context) error {
	url := s.uiAddr + "/healthz"
	httpClient := &http.Client{Timeout: dialTimeout}
	var lastErr error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("devtemporal: UI health request: %w", err)
		}
		resp, err := httpClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("devtemporal: wait for UI at %s: %w", s.uiAddr, errors.Join(ctx.Err(), lastErr))
		case err := <-s.uiDone:
			// Stop still finds the channel closed and does not block.
			return fmt.Errorf("devtemporal: UI at %s stopped before serving: %w", s.uiAddr, errors.Join(err, lastErr))
		case <-time.After(readyPoll):
		}
	}
}
