// Package httpsend sends one HTTP request to a vendor and classifies a
// request that got no answer, for the providers that speak to their vendor
// over plain HTTP.
//
// What decides the class of such a failure is whether the request left
// this process. Do reports it: a request counts as written once net/http
// has put the whole of it, body included, into the connection. A request
// that was not written cannot have been acted on, so its failure is
// transient and it is safe to try again. A request that was written may
// have been acted on even though no answer came, so a timeout or a broken
// connection after that point is unknown_outcome, to be settled (with a
// status check, a receipt, or an operator) rather than blindly re-sent. A
// write that failed part-way leaves a body the server cannot act on, so it
// does not count as written.
//
// Classify turns the error into a *providers.Error with one of the codes
// below, which are stable: they are stored in the message timeline and
// matched by rules. It never quotes the URL: the *url.Error that net/http
// wraps around transport errors is dropped, because vendors put access
// tokens, hook ids and signatures in their URLs.
//
// A sender uses the two together:
//
//	ctx, cancel := context.WithTimeout(ctx, s.timeout)
//	defer cancel()
//	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, body)
//	if err != nil {
//		return providers.Result{}, &providers.Error{Class: providers.ClassConfig, Code: "BAD_URL",
//			Message: "build dingtalk request", Err: err}
//	}
//	resp, wrote, err := httpsend.Do(s.client, req)
//	if err != nil {
//		return providers.Result{}, httpsend.Classify(err, wrote, "dingtalk")
//	}
//	defer resp.Body.Close()
//
// An answer that did come, whatever its status, is the provider's to
// read: only the provider knows its vendor's error codes.
package httpsend
