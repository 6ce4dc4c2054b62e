package nbd

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultPort is the NBD port registered with IANA.
const DefaultPort = "10809"

// URI is a parsed NBD URI: where to connect and which export to ask for.
type URI struct {
	Network string // "tcp" or "unix"
	Address string // host:port, or the socket path
	Export  string // export name ("" = the server's default export)
	Raw     string // the URI as given
}

func (u *URI) String() string { return u.Raw }

// IsURI reports whether s looks like an NBD URI (nbd://, nbd+unix://,
// and the TLS forms ParseURI refuses): TARGETs that are not file paths.
func IsURI(s string) bool {
	for _, p := range []string{"nbd://", "nbd+unix://", "nbds://", "nbds+unix://", "nbd+vsock://", "nbds+vsock://"} {
		if strings.HasPrefix(strings.ToLower(s), p) {
			return true
		}
	}
	return false
}

// ParseURI parses nbd://HOST[:PORT][/EXPORT] and
// nbd+unix:///[EXPORT]?socket=PATH (doc/uri.md of the NBD project).
func ParseURI(s string) (*URI, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("NBD URI %q: %w", s, err)
	}
	export := strings.TrimPrefix(u.Path, "/")
	switch strings.ToLower(u.Scheme) {
	case "nbd":
		if u.Hostname() == "" {
			return nil, fmt.Errorf("NBD URI %q names no host (nbd://HOST[:PORT]/EXPORT; for a Unix socket: nbd+unix:///EXPORT?socket=PATH)", s)
		}
		port := u.Port()
		if port == "" {
			port = DefaultPort
		}
		return &URI{Network: "tcp", Address: net.JoinHostPort(u.Hostname(), port), Export: export, Raw: s}, nil
	case "nbd+unix":
		sock := u.Query().Get("socket")
		if sock == "" {
			return nil, fmt.Errorf("NBD URI %q names no socket (nbd+unix:///EXPORT?socket=/path/to/socket)", s)
		}
		if u.Host != "" {
			return nil, fmt.Errorf("NBD URI %q: a Unix socket URI has no host (three slashes: nbd+unix:///EXPORT?socket=PATH)", s)
		}
		return &URI{Network: "unix", Address: sock, Export: export, Raw: s}, nil
	case "nbds", "nbds+unix":
		return nil, fmt.Errorf("NBD URI %q asks for TLS, which unbrick's NBD client does not speak: serve the export without TLS on a Unix socket or loopback", s)
	case "nbd+vsock", "nbds+vsock":
		return nil, fmt.Errorf("NBD URI %q: vsock transports are not supported; use nbd:// or nbd+unix://", s)
	}
	return nil, fmt.Errorf("%q is not an NBD URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)", s)
}
