// Package adminhttp holds what every part of the operators' API
// (/admin/api/v1) shares: the roles, the signed-in principal a request
// carries, the role check every route declares, masking of personal data
// for viewers, the error shape, and the audit entry each write records.
//
// Authentication itself (login, tokens, users) lives in api/admin; route
// groups elsewhere receive requests whose principal is already set and
// only declare the least role they need:
//
//	g.GET("/messages", h.list, adminhttp.Require(adminhttp.RoleViewer))
//	g.POST("/messages/:id/resend", h.resend, adminhttp.Require(adminhttp.RoleOperator))
package adminhttp
