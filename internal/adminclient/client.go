// Package adminclient is the operators' CLI side of the admin API: it
// signs in, keeps the tokens in the user's config directory (mode 0600),
// refreshes the access token when it expires, and turns the API's error
// bodies into errors that say what to fix.
//
// The wire contract it relies on (served by api/admin):
//
//	POST /admin/api/v1/auth/login   {"username","password","token_delivery":"body"}
//	POST /admin/api/v1/auth/refresh {"refresh_token"}
//	POST /admin/api/v1/auth/logout  {"refresh_token"}
//
// login and refresh answer Session; with token_delivery "body" the
// rotated refresh token comes in the body (browsers get it as an httpOnly
// cookie instead and never see it).
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/adminhttp"
)

// Prefix is the admin API's path prefix.
const Prefix = "/admin/api/v1"

// Session is the body of a login or refresh answer.
type Session struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	User         User   `json:"user"`
}

// User is the signed-in user as the API reports it.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Role     string `json:"role"`
}

// Credentials are what the CLI keeps between runs.
type Credentials struct {
	URL             string    `json:"url"`
	Username        string    `json:"username"`
	Role            string    `json:"role"`
	AccessToken     string    `json:"access_token"`
	AccessExpiresAt time.Time `json:"access_expires_at"`
	RefreshToken    string    `json:"refresh_token"`
}

// DefaultPath is where credentials live: <user config dir>/herald/credentials.json.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory: %w", err)
	}
	return filepath.Join(dir, "herald", "credentials.json"), nil
}

// ErrNotLoggedIn means there are no stored credentials.
var ErrNotLoggedIn = errors.New("not logged in: run herald login --url URL first")

// Load reads stored credentials.
func Load(path string) (*Credentials, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotLoggedIn
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var c Credentials
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("read credentials %s: %w (run herald login again)", path, err)
	}
	if c.URL == "" || c.RefreshToken == "" {
		return nil, ErrNotLoggedIn
	}
	return &c, nil
}

// Save writes credentials readable by the user only. It writes a
// temporary file and renames it, so a crash never leaves half a file.
func (c *Credentials) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}

// Client calls the admin API with stored credentials.
type Client struct {
	creds *Credentials
	path  string
	http  *http.Client
	now   func() time.Time
}

// New returns a client over credentials stored at path (saved again
// whenever the tokens rotate). httpClient nil means a client with a
// 30-second timeout.
func New(creds *Credentials, path string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{creds: creds, path: path, http: httpClient, now: time.Now}
}

// Credentials returns the client's current credentials.
func (c *Client) Credentials() *Credentials { return c.creds }

// Login signs in and returns credentials for baseURL (not yet saved).
func Login(ctx context.Context, httpClient *http.Client, baseURL, username, password string) (*Credentials, error) {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	base, err := normaliseURL(baseURL)
	if err != nil {
		return nil, err
	}
	var s Session
	body := map[string]string{"username": username, "password": password, "token_delivery": "body"}
	if err := call(ctx, httpClient, http.MethodPost, base+Prefix+"/auth/login", "", body, &s); err != nil {
		return nil, err
	}
	return fromSession(base, s, time.Now()), nil
}

// Logout revokes the refresh token on the server. The caller removes the
// stored file.
func (c *Client) Logout(ctx context.Context) error {
	body := map[string]string{"refresh_token": c.creds.RefreshToken}
	return call(ctx, c.http, http.MethodPost, c.creds.URL+Prefix+"/auth/logout", c.creds.AccessToken, body, nil)
}

func fromSession(base string, s Session, now time.Time) *Credentials {
	return &Credentials{
		URL:             base,
		Username:        s.User.Username,
		Role:            s.User.Role,
		AccessToken:     s.AccessToken,
		AccessExpiresAt: now.Add(time.Duration(s.ExpiresIn) * time.Second),
		RefreshToken:    s.RefreshToken,
	}
}

func normaliseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: give the server's base URL, e.g. http://127.0.0.1:8080", raw)
	}
	return u.String(), nil
}

// refresh rotates the tokens and saves them.
func (c *Client) refresh(ctx context.Context) error {
	var s Session
	body := map[string]string{"refresh_token": c.creds.RefreshToken}
	if err := call(ctx, c.http, http.MethodPost, c.creds.URL+Prefix+"/auth/refresh", "", body, &s); err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized {
			return fmt.Errorf("session expired: run herald login --url %s again", c.creds.URL)
		}
		return err
	}
	c.creds = fromSession(c.creds.URL, s, c.now())
	if c.path != "" {
		return c.creds.Save(c.path)
	}
	return nil
}

// Do calls path (below the admin prefix, e.g. "/apps") with an optional
// query and JSON body, and decodes a JSON answer into out (nil to
// discard). It refreshes the access token first when it is about to
// expire, and once more when the server answers 401.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.Raw(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, out)
}

// Raw is Do without decoding: the caller reads (and closes) the body, for
// streamed answers such as a CSV export or a live tail. Error statuses
// are still turned into errors.
func (c *Client) Raw(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	if c.now().After(c.creds.AccessExpiresAt.Add(-30 * time.Second)) {
		if err := c.refresh(ctx); err != nil {
			return nil, err
		}
	}
	target := c.creds.URL + Prefix + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	resp, err := send(ctx, c.http, method, target, c.creds.AccessToken, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		if err := c.refresh(ctx); err != nil {
			return nil, err
		}
		if resp, err = send(ctx, c.http, method, target, c.creds.AccessToken, body); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decode(resp, nil)
	}
	return resp, nil
}

func call(ctx context.Context, hc *http.Client, method, target, token string, body, out any) error {
	resp, err := send(ctx, hc, method, target, token, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, out)
}

func send(ctx context.Context, hc *http.Client, method, target, token string, body any) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	return resp, nil
}

// Error is an error answer of the admin API.
type Error struct {
	Status int
	adminhttp.Problem
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s (field %s; HTTP %d %s)", msg, e.Field, e.Status, e.Code)
	}
	return fmt.Sprintf("%s (HTTP %d %s)", msg, e.Status, e.Code)
}

func decode(resp *http.Response, out any) error {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode}
		if jsonErr := json.Unmarshal(raw, &e.Problem); jsonErr != nil || e.Code == "" {
			e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
			e.Message = strings.TrimSpace(string(raw))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200]
			}
		}
		return e
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// CredentialsEnv names the environment variable that points at the
// credentials file.
const CredentialsEnv = "HERALD_CREDENTIALS"

// CredentialsPath resolves where credentials live: the --credentials flag
// when given, else $HERALD_CREDENTIALS, else DefaultPath.
func CredentialsPath(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := getenv(CredentialsEnv); p != "" {
		return p, nil
	}
	return DefaultPath()
}

// Open loads the credentials CredentialsPath finds and returns a client
// that saves rotated tokens back there. httpClient nil means the default.
func Open(flag string, getenv func(string) string, httpClient *http.Client) (*Client, error) {
	path, err := CredentialsPath(flag, getenv)
	if err != nil {
		return nil, err
	}
	creds, err := Load(path)
	if err != nil {
		return nil, err
	}
	return New(creds, path, httpClient), nil
}
