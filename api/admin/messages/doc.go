// Package messages is the operators' view of messages under the admin API
// (/admin/api/v1): list with filters and cursor pages, detail with the
// timeline and a link to the Temporal UI, cancel, resend, CSV export, and
// re-drive by query. Register mounts the routes on the authenticated group;
// every route names the least role it needs.
//
//	messages.Register(g, messages.Deps{Store: db, Engine: workflows.NewClient(c), Keys: keys})
package messages
