package httpapi

import (
	"context"
	"fmt"
)

// Role is the least a caller needs to be allowed to use a route.
type Role int

// Roles, each allowed everything the ones before it are.
const (
	Public   Role = iota // anybody, no token
	TV                   // a wall screen: the TV pages and the queries they make
	Viewer               // read
	Operator             // act: silence, replay, delete a key when allowed
	Admin                // configure, debug
)

// String returns the role's config name.
func (r Role) String() string {
	switch r {
	case Public:
		return "public"
	case TV:
		return "tv"
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole parses a role name from the config.
func ParseRole(s string) (Role, error) {
	for r := TV; r <= Admin; r++ {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q", s)
}

// Identity is who is calling: set by the server's authentication before the
// Mux sees the request.
type Identity struct {
	Name string // token name, "login-link" or "loopback"
	Role Role
	// Session is true when the identity comes from the UI's session
	// cookie; such requests need the CSRF token to change state.
	Session bool
	// CSRF is the session's CSRF token, for pages to embed.
	CSRF string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the caller, or nil for an anonymous request.
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}
