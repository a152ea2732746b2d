package store

import (
	"encoding/json"
	"fmt"
)

// Personal data (receivers, subjects, contents, template parameters,
// attachments, provider error texts, replies) is sealed with
// Cipher.SealText on its way into the store and opened on its way out, in
// the functions below, so callers only ever see clear text and the
// columns only ever hold sealed text. Values written before sealing was
// introduced are clear text and read as they are; `herald keys rotate`
// seals them. Lookups by receiver go through the receiver key (the keyed
// hash in receiver_key), never through the sealed column.

// sealMessage returns the row to store for m: a copy whose personal data
// is sealed. m itself is left as the caller wrote it.
func sealMessage(c *Cipher, m *Message) (Message, error) {
	row := *m
	var err error
	for _, f := range []struct {
		name string
		v    *string
	}{{"receiver", &row.Receiver}, {"subject", &row.Subject}, {"content", &row.Content}, {"last error", &row.LastError}} {
		if *f.v, err = c.SealText(*f.v); err != nil {
			return Message{}, fmt.Errorf("seal %s: %w", f.name, err)
		}
	}
	row.TemplateParamsText = ""
	if m.TemplateParams != nil {
		raw, err := json.Marshal(m.TemplateParams)
		if err != nil {
			return Message{}, fmt.Errorf("encode template params: %w", err)
		}
		if row.TemplateParamsText, err = c.SealText(string(raw)); err != nil {
			return Message{}, fmt.Errorf("seal template params: %w", err)
		}
	}
	if row.Attachments, err = sealJSON(c, m.Attachments); err != nil {
		return Message{}, fmt.Errorf("seal attachments: %w", err)
	}
	return row, nil
}

// openMessage opens, in place, the personal data of a message read from
// the store.
func openMessage(c *Cipher, m *Message) error {
	var err error
	for _, f := range []struct {
		name string
		v    *string
	}{{"receiver", &m.Receiver}, {"subject", &m.Subject}, {"content", &m.Content}, {"last error", &m.LastError}} {
		if *f.v, err = c.OpenText(*f.v); err != nil {
			return fmt.Errorf("open %s of task %q: %w", f.name, m.TaskID, err)
		}
	}
	m.TemplateParams = nil
	if m.TemplateParamsText != "" {
		raw, err := c.OpenText(m.TemplateParamsText)
		if err != nil {
			return fmt.Errorf("open template params of task %q: %w", m.TaskID, err)
		}
		if err := json.Unmarshal([]byte(raw), &m.TemplateParams); err != nil {
			return fmt.Errorf("decode template params of task %q: %w", m.TaskID, err)
		}
		m.TemplateParamsText = ""
	}
	if m.Attachments, err = openJSON(c, m.Attachments); err != nil {
		return fmt.Errorf("open attachments of task %q: %w", m.TaskID, err)
	}
	normMessage(m)
	return nil
}

// openMessages opens each of ms in place.
func openMessages(c *Cipher, ms []Message) error {
	for i := range ms {
		if err := openMessage(c, &ms[i]); err != nil {
			return err
		}
	}
	return nil
}

// sealJSON seals a JSON document stored in a text column; nil stays nil
// (SQL NULL).
func sealJSON(c *Cipher, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	s, err := c.SealText(string(raw))
	if err != nil {
		return nil, err
	}
	return json.RawMessage(s), nil
}

// openJSON opens what sealJSON sealed; clear JSON is returned as it is.
func openJSON(c *Cipher, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return raw, nil
	}
	s, err := c.OpenText(string(raw))
	if err != nil {
		return nil, err
	}
	return json.RawMessage(s), nil
}

// sealEvent returns the row to store for e: a copy whose detail (a
// receiver's reply, or a provider's error text, which may quote the
// receiver), rule inputs and data are sealed.
func sealEvent(c *Cipher, e *MessageEvent) (MessageEvent, error) {
	row := *e
	var err error
	if row.Detail, err = c.SealText(e.Detail); err != nil {
		return MessageEvent{}, fmt.Errorf("seal detail: %w", err)
	}
	// A decision's inputs hold the failure's provider message too.
	if row.Inputs, err = sealJSON(c, e.Inputs); err != nil {
		return MessageEvent{}, fmt.Errorf("seal inputs: %w", err)
	}
	// So does a late receipt's data: its description.
	if row.Data, err = sealJSON(c, e.Data); err != nil {
		return MessageEvent{}, fmt.Errorf("seal data: %w", err)
	}
	return row, nil
}

// openEvents opens the details of events read from the store in place.
func openEvents(c *Cipher, es []MessageEvent) error {
	for i := range es {
		var err error
		if es[i].Detail, err = c.OpenText(es[i].Detail); err != nil {
			return fmt.Errorf("open detail of event %d of task %q: %w", es[i].Seq, es[i].TaskID, err)
		}
		if es[i].Inputs, err = openJSON(c, es[i].Inputs); err != nil {
			return fmt.Errorf("open inputs of event %d of task %q: %w", es[i].Seq, es[i].TaskID, err)
		}
		if es[i].Data, err = openJSON(c, es[i].Data); err != nil {
			return fmt.Errorf("open data of event %d of task %q: %w", es[i].Seq, es[i].TaskID, err)
		}
		es[i].CreatedAt = normTime(es[i].CreatedAt)
	}
	return nil
}

// openBatch opens, in place, what a batch read from the store shares with
// its members: attachments, and for a batch-workflow batch its subject,
// content and template parameters.
func openBatch(c *Cipher, b *Batch) error {
	var err error
	if b.Attachments, err = openJSON(c, b.Attachments); err != nil {
		return fmt.Errorf("open attachments: %w", err)
	}
	if b.Subject, err = c.OpenText(b.Subject); err != nil {
		return fmt.Errorf("open subject: %w", err)
	}
	if b.Content, err = c.OpenText(b.Content); err != nil {
		return fmt.Errorf("open content: %w", err)
	}
	b.TemplateParams = nil
	if b.TemplateParamsText != "" {
		raw, err := c.OpenText(b.TemplateParamsText)
		if err != nil {
			return fmt.Errorf("open template params: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &b.TemplateParams); err != nil {
			return fmt.Errorf("decode template params: %w", err)
		}
		b.TemplateParamsText = ""
	}
	normBatchTimes(b)
	return nil
}
