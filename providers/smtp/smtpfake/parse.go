package smtpfake

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// maxDepth bounds MIME nesting; real messages go three or four deep.
const maxDepth = 10

// header is what both a message and a part header offer.
type header interface {
	Get(key string) string
}

// parseInto parses m.Raw into m's header, subject, parts and attachments,
// setting ParseErr on the first problem.
func parseInto(m *Message) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		m.ParseErr = fmt.Errorf("read message: %w", err)
		return
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.ParseErr = fmt.Errorf("decode subject: %w", err)
		return
	}
	if err := walk(m, msg.Header, msg.Body, 0); err != nil {
		m.ParseErr = err
	}
}

// walk reads one MIME entity, descending into multiparts.
func walk(m *Message, h header, body io.Reader, depth int) error {
	if depth > maxDepth {
		return errors.New("MIME nesting too deep")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ct, err)
	}
	m.Parts = append(m.Parts, mediaType)

	if strings.HasPrefix(mediaType, "multipart/") {
		if params["boundary"] == "" {
			return fmt.Errorf("%s without boundary", mediaType)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart leaves the transfer encoding to decode, so
			// quoted-printable and base64 are handled alike.
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s part: %w", mediaType, err)
			}
			if err := walk(m, part.Header, part, depth+1); err != nil {
				return err
			}
		}
	}

	data, err := decodeBody(body, h.Get("Content-Transfer-Encoding"))
	if err != nil {
		return fmt.Errorf("decode %s: %w", mediaType, err)
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	if filename != "" {
		dec := new(mime.WordDecoder)
		if decoded, err := dec.DecodeHeader(filename); err == nil {
			filename = decoded
		}
	}
	switch {
	case disposition != "attachment" && mediaType == "text/plain" && m.Text == "":
		m.Text = text(data, depth)
	case disposition != "attachment" && mediaType == "text/html" && m.HTML == "":
		m.HTML = text(data, depth)
	default:
		m.Attachments = append(m.Attachments, Attachment{Filename: filename, ContentType: mediaType, Content: data})
	}
	return nil
}

func decodeBody(r io.Reader, cte string) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, r))
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r))
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(r)
	default:
		return nil, fmt.Errorf("unknown transfer encoding %q", cte)
	}
}

// text turns a text body into what its sender wrote: CRLF line ends become
// LF and, in a message that is not multipart, the line end that SMTP adds
// before the end-of-data mark is dropped.
func text(data []byte, depth int) string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	if depth == 0 {
		s = strings.TrimSuffix(s, "\n")
	}
	return s
}
