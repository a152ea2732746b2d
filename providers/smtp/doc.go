// Package smtp is the "smtp" provider kind: it sends e-mail through an SMTP
// submission server (a provider's smtp host, a company relay) with
// github.com/wneessen/go-mail, one connection per message, and classifies
// the server's replies.
//
// Sending one message:
//
//	p := smtp.New()
//	sender, err := p.NewSender(providers.Account{ID: 3, Kind: smtp.Kind, Config: raw})
//	if err != nil {
//		return err
//	}
//	res, err := sender.Send(ctx, providers.Message{
//		TaskID:      taskID,
//		Attempt:     1,
//		Receiver:    "alice@example.org",
//		Subject:     "Your sign-in code",
//		Content:     "<p>Your code is <b>4711</b>.</p>",
//		ContentType: "html",
//	})
//	if pe := providers.AsError(err); pe != nil {
//		// pe.Class says what kind of failure it was; pe.Code is the reply,
//		// like "SMTP_550_5.1.1", or one of the Code* constants.
//	}
//	// res.Delivered is true; res.ProviderMessageID is the Message-ID,
//	// "<taskID.1@example.com>".
//
// # Account configuration
//
// An account's config is a JSON object; unknown keys are refused.
//
//	host                  required  SMTP server host name or IP address, without port.
//	port                  optional  Default 587, 465 with tls_mode implicit, 25 with none.
//	username              optional  AUTH user name; with password, or neither (no AUTH).
//	password              optional  AUTH password; stored encrypted, never logged.
//	from                  required  Sender address, bare: "noreply@example.com". It is
//	                                MAIL FROM and the From header.
//	from_name             optional  Display name of the From header ("Herald Alerts").
//	tls_mode              optional  "starttls" (default): STARTTLS is required before AUTH
//	                                and mail; "starttls_optional": STARTTLS when offered,
//	                                clear text otherwise (credentials are still never sent
//	                                in clear text); "implicit": TLS from the first byte
//	                                (port 465); "none": never TLS, only for a host on this
//	                                machine (localhost or a loopback address).
//	tls_server_name       optional  Name the certificate is checked against; default host.
//	ca_pem                optional  Extra PEM CA certificates to trust (a private relay).
//	insecure_skip_verify  optional  Default false. Skips certificate checks. For tests
//	                                only; never set it on a production account.
//	timeout_seconds       optional  Default 10, at most 300. Bounds dialling, then the
//	                                session set-up (greeting, EHLO, TLS, AUTH), then the
//	                                mail transaction up to the reply to the data. Keep
//	                                4x this under the send activity's one-minute limit.
//	max_attachment_bytes  optional  Default 10485760 (10 MiB). Total attachment size a
//	                                message may carry; larger ones fail before connecting.
//	helo_name             optional  Name sent in EHLO; default the machine's host name.
//	message_id_domain     optional  Default "herald.invalid". Ends every Message-ID; give
//	                                all accounts of a channel the same one (see Messages).
//	on_unknown_outcome    optional  "fail" (default) or "resend": what happens after a
//	                                send whose outcome is unknown (see Unknown outcomes).
//	dkim                  optional  Signs every message with DKIM (see DKIM).
//
// Example:
//
//	{
//	  "host": "smtp.exmail.qq.com",
//	  "port": 465,
//	  "tls_mode": "implicit",
//	  "username": "noreply@example.com",
//	  "password": "...",
//	  "from": "noreply@example.com",
//	  "from_name": "Herald"
//	}
//
// AUTH uses PLAIN, or LOGIN when the server offers only that, which is what
// QQ, 163, Aliyun and Tencent Exmail expect; if the server offers neither,
// go-mail picks another mechanism it supports.
//
// # Messages
//
// The receiver is one address, bare or with a display name
// ("Alice <alice@example.org>"). The subject is msg.Subject. A message with
// ContentType "html" (or "text/html") is sent as multipart/alternative:
// a plain-text part derived from the HTML (tags stripped, links kept in
// parentheses) and the HTML itself; any other content type is sent as
// text/plain. msg.Attachments follow as attachments (an empty content type
// becomes application/octet-stream; directories are dropped from file
// names). Each message carries:
//
//	Message-ID: <task-id@herald.invalid>   returned as ProviderMessageID
//	X-Herald-Task-Id: task-id
//	X-Herald-Attempt: n
//
// The Message-ID is the task's, the same on every attempt and through every
// account (message_id_domain replaces herald.invalid; give all accounts of
// a channel the same one), so a resend is recognisable downstream; a bounce
// or a complaint that quotes the original leads back to the task and the
// attempt.
//
// # DKIM
//
// With a dkim object the account signs every message (RFC 6376) as go-mail
// writes it out, after all headers are set:
//
//	domain            required  Signing domain (d=), the From domain or its parent
//	                            for DMARC alignment.
//	selector          required  Key name (s=); the public key is the TXT record at
//	                            <selector>._domainkey.<domain>.
//	private_key_pem   required  RSA (PKCS #1 or #8, at least 1024 bits, 2048 advised)
//	                            or Ed25519 (PKCS #8) private key in PEM; stored
//	                            encrypted with the rest of the config, never logged.
//	canonicalization  optional  "relaxed/relaxed" (default), "relaxed/simple",
//	                            "simple/relaxed" or "simple/simple"; one word is the
//	                            header's, with a simple body, as in the c= tag.
//	signed_headers    optional  Header fields signed, in order; must include From.
//	                            Default DefaultDKIMSignedHeaders.
//
// Problems are named by their key ("dkim.selector is required") and never
// quote the key. A message that cannot be signed is not sent: the send
// fails as config with CodeDKIM.
//
// # Unknown outcomes
//
// An answer lost after the message data was sent leaves the outcome
// unknown, and SMTP has no way to ask. on_unknown_outcome (default "fail")
// decides: "fail" ends the message failed (UNKNOWN_OUTCOME_NOT_RESENT), so
// the receiver gets it at most once; "resend" sends it again with the same
// Message-ID, so it arrives at least once.
//
// # Receipts
//
// E-mail has no delivery receipts, so there is no callback URL to set up
// and ReceiptHandler returns nil. The server's 250 after the message data
// is final: Send reports it as Delivered. Bounces arrive later by mail at
// the from address; they quote the Message-ID above, but Herald does not
// read that mailbox. A server that refuses the receiver during the SMTP
// dialogue with a 5.1.x status (IsHardBounce) reports a hard bounce at
// once: the send fails permanently, and the activities suppress the
// address for the app (Provider.HardBounce).
//
// # Failures
//
// A reply keeps its codes in providers.Error.Code as "SMTP_<code>" or
// "SMTP_<code>_<enhanced>" ("SMTP_550_5.1.1") and is classified by
// Classify: 4xx transient; 530, 534, 538 config; 535 account; other 5xx
// permanent, refined by the enhanced code (x.1.7 and x.1.8, the sender's
// address, and x.7.9–x.7.11 config; other x.7.x policy refusals account).
// A permanent refusal of the session (before MAIL FROM) counts as account,
// and of MAIL FROM (other than 552) as config, since neither is about the
// message. Before any reply: a bad receiver or attachment is permanent
// (CodeInvalidReceiver, CodeInvalidAttachment, CodeAttachmentsTooLarge),
// found before connecting; no connection, DNS failure and timeouts while
// connecting are transient (CodeConnect, CodeDNS, CodeTimeout); a failed
// TLS handshake, a missing STARTTLS, or no usable AUTH is config (CodeTLS,
// CodeStartTLSUnsupported, CodeAuthUnsupported, CodeAuthNeedsTLS). A
// timeout or broken connection after the message data was sent is
// unknown_outcome (CodeTimeout, CodeConnectionLost, CodeCancelled): the
// server may have queued the message, and e-mail has no status query to
// ask.
//
// go-mail reports a missing STARTTLS and a server without AUTH only as
// text, not as sentinel errors; the tests pin both texts, so an upgrade
// that rewords them fails the tests rather than turning config errors into
// transient ones.
//
// Package smtpfake runs a real SMTP server on 127.0.0.1 for tests, with
// STARTTLS or implicit TLS, AUTH PLAIN and LOGIN, and scripted replies.
package smtp
