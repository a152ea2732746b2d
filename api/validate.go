package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/heraldhq/herald/internal/render"

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

// chinaMobile reads the two forms nearly every SMS batch is written in,
// "+86" or nothing and then eleven digits from 13 to 19 (mainland mobile
// numbers), and says whether the number is valid and its E.164 form, as
// the library would, at a fraction of its cost: Parse runs regular
// expressions to find an extension and a country code, and IsValidNumber
// looks its patterns up by building and hashing strings kilobytes long;
// together they were most of the accept time of a 100,000-receiver batch.
// ok is false for any other form, which takes the library's path, as do
// numbers without +86 that begin 179: the library may read their start as
// a carrier selection code (17951, say) and the rest as the number.
// TestChinaMobileAgreesWithParse checks both paths agree over every
// mobile number prefix.
func chinaMobile(s string) (e164 string, valid, ok bool) {
	digits, international := strings.CutPrefix(s, "+86")
	if len(digits) != 11 || digits[0] != '1' || digits[1] < '3' || (!international && digits[:3] == "179") {
		return "", false, false
	}
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return "", false, false
		}
	}
	descs := chinaDescs()
	if descs == nil {
		return "", false, false
	}
	return "+86" + digits, descs.valid(digits), true
}

// numberDesc is one of a region's number descriptions (general, mobile,
// fixed line, ...): the lengths and the pattern of its national numbers.
type numberDesc struct {
	lengths []int32
	pattern *regexp.Regexp
}

// matches says whether a national number fits the description, as the
// library's isNumberMatchingDesc does: a length it lists, if it lists
// any, and the whole number matching its pattern.
func (d numberDesc) matches(national string) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(national))) {
		return false
	}
	return d.pattern.MatchString(national)
}

// regionDescs are the descriptions IsValidNumber consults for a region's
// numbers: valid means matching the general one and any of the kinds.
type regionDescs struct {
	general numberDesc
	kinds   []numberDesc
}

func (r *regionDescs) valid(national string) bool {
	return r.general.matches(national) && slices.ContainsFunc(r.kinds, func(d numberDesc) bool { return d.matches(national) })
}

// chinaDescs compiles mainland China's descriptions from the library's
// own metadata, once; nil, sending every number down the library's path,
// if that metadata cannot be read.
var chinaDescs = sync.OnceValue(func() *regionDescs {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil
	}
	for _, m := range coll.GetMetadata() {
		if m.GetId() != defaultPhoneRegion {
			continue
		}
		desc := func(d *phonenumbers.PhoneNumberDesc) numberDesc {
			return numberDesc{lengths: d.GetPossibleLength(), pattern: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
		}
		// Mobile first: the kind nearly every number is.
		r := &regionDescs{general: desc(m.GetGeneralDesc())}
		for _, d := range []*phonenumbers.PhoneNumberDesc{m.GetMobile(), m.GetFixedLine(), m.GetPremiumRate(), m.GetTollFree(),
			m.GetSharedCost(), m.GetVoip(), m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail()} {
			r.kinds = append(r.kinds, desc(d))
		}
		return r
	}
	return nil
})

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
		e164, valid, ok := chinaMobile(s)
		if !ok {
			num, perr := phonenumbers.Parse(s, defaultPhoneRegion)
			if perr != nil {
				return "", "", errReceiver("receiver is not a phone number: write it in E.164 form (+8613800138000) or as a mainland China number")
			}
			e164, valid = phonenumbers.Format(num, phonenumbers.E164), phonenumbers.IsValidNumber(num)
		}
		if !valid {
			return "", "", errReceiver("receiver is not a valid phone number for its country")
		}
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
	used := render.Placeholders(t.Content, t.Subject)
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

// Limits of what a client may put in a message.
const (
	// maxParamValueLen caps each template parameter value, in characters.
	maxParamValueLen = 1000
	// maxSubjectLen caps a client-supplied subject, in characters.
	maxSubjectLen = 200
)

// checkParamValues caps the length of every parameter value and keeps line
// breaks out of those the subject uses: a subject is one line of plain
// text (an e-mail header), and a line break in it could add headers.
func checkParamValues(t *store.Template, params map[string]string) *Error {
	inSubject := render.Placeholders(t.Subject)
	var invalid, problems []string
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := params[k]
		switch {
		case utf8.RuneCountInString(v) > maxParamValueLen:
			invalid = append(invalid, k)
			problems = append(problems, fmt.Sprintf("%q is longer than %d characters", k, maxParamValueLen))
		case inSubject[k] && strings.ContainsAny(v, "\r\n"):
			invalid = append(invalid, k)
			problems = append(problems, fmt.Sprintf("%q is used in the subject and must not contain line breaks", k))
		}
	}
	if len(invalid) == 0 {
		return nil
	}
	e := NewError(http.StatusBadRequest, CodeTemplateParams, "template parameter error: %s", strings.Join(problems, "; "))
	e.Data = map[string][]string{"missing": {}, "unknown": {}, "invalid": invalid}
	return e
}

// checkSubject checks a client-supplied subject: one line of plain text of
// at most maxSubjectLen characters.
func checkSubject(subject string) *Error {
	if utf8.RuneCountInString(subject) > maxSubjectLen {
		return errInvalidValue("subject must be at most %d characters", maxSubjectLen)
	}
	if strings.ContainsAny(subject, "\r\n") || !printableString(subject) {
		return errInvalidValue("subject must be one line of plain text, without line breaks or control characters")
	}
	return nil
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
// Their decoded sizes together may not exceed maxBytes.
func parseAttachments(f fields, channelType string, maxBytes int64) (json.RawMessage, *Error) {
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
	var total int64
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
		total += int64(len(content))
		if total > maxBytes {
			return nil, errInvalidValue("attachments exceed %d bytes in total (decoded)", maxBytes)
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
