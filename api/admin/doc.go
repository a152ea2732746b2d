// Package admin is the operators' API server: everything under
// /admin/api/v1. It signs users in, issues and checks their tokens, sets
// the adminhttp.Principal of every authenticated request, answers errors
// in one JSON shape, and mounts the route groups of other packages.
//
// Mounting a route group: a package exports Register(g *echo.Group, ...)
// that declares adminhttp.Require(role) on every route, and cmd passes it
// in Deps.Routes:
//
//	srv, err := admin.New(cfg, admin.Deps{
//		Store: db,
//		Routes: []func(g *echo.Group){
//			func(g *echo.Group) { resources.Register(g, resourceDeps) },
//		},
//	})
//
// g is the /admin/api/v1 group behind authentication; paths are relative
// to it ("/apps").
//
// Tokens: an access token is an HS256 JWT (15 minutes by default) signed
// with a subkey of the master key. Every request also reads its user (one
// primary-key lookup), so a disabled user, a changed role or a reset
// password takes effect on the next request, not only at the next
// refresh. Refresh tokens are random, stored as SHA-256 hashes, rotated
// on every refresh; presenting a rotated one again revokes its whole
// sign-in (it was copied). A sign-in lapses after RefreshIdleTTL unused
// and after RefreshMaxTTL in any case.
package admin
