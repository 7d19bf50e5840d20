package entra

import (
	"strconv"
	"testing"
)

// FuzzLoopbackRedirect: the authorize endpoint posts the code to what
// loopbackRedirect returns for the redirect_uri a caller sent; whatever it
// accepts is plain http to 127.0.0.1 on a numeric port, with no user info,
// so the sim never sends a code anywhere but to this machine.
func FuzzLoopbackRedirect(f *testing.F) {
	for _, s := range []string{
		"http://localhost:8400", "http://127.0.0.1:1/cb?x=1", "https://localhost:1", "http://localhost",
		"http://user@localhost:1", "http://localhost:1@evil.example:2", "http://[::1]:1", "http://127.0.0.1:1#@evil",
		"http://LOCALHOST:1", "http://localhost:99999", "http://localhost:1\\@evil", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := loopbackRedirect(raw)
		if err != nil {
			return
		}
		if u.Scheme != "http" || u.User != nil || u.Hostname() != "127.0.0.1" {
			t.Fatalf("redirect_uri %q posts to %q", raw, u.String())
		}
		if _, err := strconv.ParseUint(u.Port(), 10, 64); err != nil {
			t.Fatalf("redirect_uri %q posts to port %q", raw, u.Port())
		}
	})
}
