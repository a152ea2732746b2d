// Package payloadcodec encrypts the payloads Herald hands to Temporal:
// workflow and activity inputs and results, signals, updates, queries,
// markers and the encoded attributes of failures. Receivers, template
// parameters and contents therefore reach the Temporal server, its
// database and its Web UI only as ciphertext.
//
// Each payload is sealed whole (its metadata and data, proto-encoded) with
// AES-256-GCM under a subkey of Herald's master key. The sealed payload
// carries two metadata entries in clear: encoding "binary/encrypted" and
// the id of the key that sealed it, a fingerprint of the master key that
// reveals nothing about it.
//
// A Codec seals with its current key and opens with any key it knows, so a
// changed master key can still read histories written under the old one
// while the old one is listed as a previous key. Payloads without the
// encrypted encoding pass through Decode untouched: histories written before
// encryption was turned on stay readable.
//
// Usage, in the composition root:
//
//	codec, err := payloadcodec.New(masterKey, previousMasterKeys...)
//	opts := client.Options{
//		DataConverter:    payloadcodec.DataConverter(codec),
//		FailureConverter: payloadcodec.FailureConverter(codec),
//	}
package payloadcodec
