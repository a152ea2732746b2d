package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// Receiver rules.
const (
	// defaultPhoneRegion reads phone numbers written without a country code.
	defaultPhoneRegion = "CN"
	maxUserIDLen       = 128
	maxEmailLen        = 254
)

// normalizeReceiver checks a receiver for a channel type and returns the
// form to store and the form to compare for duplicates. The message of the
// error says what is wrong without repeating the receiver.
func normalizeReceiver(channelType, raw string) (normalized, dedupKey string, err *Error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", errReceiver("receiver is empty")
	}
	switch channelType {
	case store.ChannelSMS:
		num, perr := phonenumbers.Parse(s, defaultPhoneRegion)
		if perr != nil {
			return "", "", errReceiver("receiver is not a phone number: write it in E.164 form (+8613800138000) or as a mainland China number")
		}
		if !phonenumbers.IsValidNumber(num) {
			return "", "", errReceiver("receiver is not a valid phone number for its country")
		}
		e164 := phonenumbers.Format(num, phonenumbers.E164)
		return e164, e164, nil
	case store.ChannelEmail:
		if len(s) > maxEmailLen {
			return "", "", errReceiver("receiver e-mail address is longer than %d characters", maxEmailLen)
		}
		addr, perr := mail.ParseAddress(s)
		if perr != nil {
			return "", "", errReceiver("receiver is not a valid e-mail address")
		}
		if addr.Name != "" || addr.Address != s {
			return "", "", errReceiver("receiver must be a bare e-mail address such as user@example.com, without a display name or angle brackets")
		}
		at := strings.LastIndexByte(s, '@')
		norm := s[:at] + "@" + strings.ToLower(s[at+1:])
		return norm, strings.ToLower(s), nil
	default:
		if utf8.RuneCountInString(s) > maxUserIDLen {
			return "", "", errReceiver("receiver id is longer than %d characters", maxUserIDLen)
		}
		for _, r := range s {
			if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) {
				return "", "", errReceiver("receiver id must not contain spaces or control characters")
			}
		}
		return s, s, nil
	}
}

// templateVariablesValid reports whether the placeholders of a template's
// content and subject are exactly its declared variables.
func templateVariablesValid(t *store.Template) bool {
	used := store.Placeholders(t.Content, t.Subject)
	declared := map[string]bool{}
	for _, v := range t.Variables {
		declared[v] = true
	}
	if len(used) != len(declared) {
		return false
	}
	for v := range used {
		if !declared[v] {
			return false
		}
	}
	return true
}

// render replaces every placeholder whose variable is in params.
func render(text string, params map[string]string) string {
	return store.FillPlaceholders(text, func(name string) (string, bool) {
		v, ok := params[name]
		return v, ok
	})
}

// checkTemplateParams requires every declared variable and refuses unknown
// names, listing both in the message and in the error data.
func checkTemplateParams(t *store.Template, params map[string]string) *Error {
	declared := map[string]bool{}
	var missing, unknown []string
	for _, v := range t.Variables {
		declared[v] = true
		if _, ok := params[v]; !ok {
			missing = append(missing, v)
		}
	}
	for k := range params {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	if len(missing) == 0 && len(unknown) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+quoteList(missing))
	}
	if len(unknown) > 0 {
		parts = append(parts, "unknown "+quoteList(unknown))
	}
	e := NewError(http.StatusBadRequest, CodeTemplateParams, "template parameter error: %s", strings.Join(parts, "; "))
	e.Data = map[string][]string{"missing": nonNil(missing), "unknown": nonNil(unknown)}
	return e
}

// checkSignature applies the channel's signature rules.
func checkSignature(ch *store.Channel, name string) *Error {
	if name == "" {
		if ch.SignatureRequired {
			return errMissing("signature_name")
		}
		return nil
	}
	for _, allowed := range ch.SignatureNames {
		if name == allowed {
			return nil
		}
	}
	if len(ch.SignatureNames) == 0 {
		return errInvalidValue("signature_name is not accepted: channel %d has no signatures", ch.ID)
	}
	return errInvalidValue("signature_name must be one of %s", quoteList(ch.SignatureNames))
}

// scheduleSkew tolerates clocks slightly behind ours.
const scheduleSkew = 30 * time.Second

// parseSchedule reads scheduled_at; "" means send now.
func parseSchedule(raw string, now time.Time, maxAhead time.Duration) (*time.Time, *Error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return nil, errInvalidValue("scheduled_at must be an RFC 3339 time with an offset, such as 2025-01-02T15:04:05+08:00 or 2025-01-02T07:04:05Z")
	}
	switch {
	case t.Before(now.Add(-scheduleSkew)):
		return nil, errInvalidValue("scheduled_at is in the past")
	case t.After(now.Add(maxAhead)):
		return nil, errInvalidValue("scheduled_at is more than %s ahead", humanDuration(maxAhead))
	}
	t = t.UTC()
	return &t, nil
}

func humanDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// Attachment limits.
const (
	maxAttachments      = 10
	maxAttachmentBytes  = 3 << 20
	maxAttachmentName   = 255
	defaultContentType  = "application/octet-stream"
	attachmentsField    = "attachments"
	attachmentFieldName = "attachments[%d].%s"
)

type attachmentIn struct {
	Filename      *string `json:"filename"`
	ContentType   *string `json:"content_type"`
	ContentBase64 *string `json:"content_base64"`
}

// parseAttachments validates attachments and returns them as the JSON the
// message row stores: a list of providers.Attachment (content as base64).
func parseAttachments(f fields, channelType string) (json.RawMessage, *Error) {
	if !f.has(attachmentsField) {
		return nil, nil
	}
	var in []attachmentIn
	if err := json.Unmarshal(f[attachmentsField], &in); err != nil {
		return nil, errInvalidParams("attachments must be a list of objects with filename, content_type and content_base64")
	}
	if len(in) == 0 {
		return nil, nil
	}
	if channelType != store.ChannelEmail {
		return nil, errInvalidValue("attachments are only supported on email channels")
	}
	if len(in) > maxAttachments {
		return nil, errInvalidValue("at most %d attachments are allowed, got %d", maxAttachments, len(in))
	}
	out := make([]providers.Attachment, 0, len(in))
	total := 0
	for i, a := range in {
		if a.Filename == nil || strings.TrimSpace(*a.Filename) == "" {
			return nil, errMissing(fmt.Sprintf(attachmentFieldName, i, "filename"))
		}
		name := strings.TrimSpace(*a.Filename)
		if len(name) > maxAttachmentName || strings.ContainsAny(name, `/\`) || !printableString(name) {
			return nil, errInvalidValue(attachmentFieldName+" must be a plain file name of at most %d bytes", i, "filename", maxAttachmentName)
		}
		if a.ContentBase64 == nil || *a.ContentBase64 == "" {
			return nil, errMissing(fmt.Sprintf(attachmentFieldName, i, "content_base64"))
		}
		content, err := decodeBase64(*a.ContentBase64)
		if err != nil {
			return nil, errInvalidValue(attachmentFieldName+" is not valid base64", i, "content_base64")
		}
		total += len(content)
		if total > maxAttachmentBytes {
			return nil, errInvalidValue("attachments exceed %d bytes in total", maxAttachmentBytes)
		}
		ct := defaultContentType
		if a.ContentType != nil && strings.TrimSpace(*a.ContentType) != "" {
			ct = strings.TrimSpace(*a.ContentType)
		}
		out = append(out, providers.Attachment{Filename: name, ContentType: ct, Content: content})
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("encode attachments: %w", err)}
	}
	return raw, nil
}

// decodeBase64 accepts standard base64 with or without padding, ignoring
// line breaks that MIME-minded encoders insert.
func decodeBase64(s string) ([]byte, error) {
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
