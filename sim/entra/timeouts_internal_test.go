package entra

import (
	"net/http/httptest"
	"testing"
)

// TestDefaultTimeouts: the zero Config gets the documented timeouts on both
// listeners (timeouts_test.go shows what each timeout does, with short ones).
func TestDefaultTimeouts(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, h := range map[string]*httptest.Server{"authority": s.authority, "managed": s.managed} {
		c := h.Config
		if c.ReadHeaderTimeout != DefaultReadHeaderTimeout || c.ReadTimeout != DefaultReadTimeout || c.IdleTimeout != DefaultIdleTimeout {
			t.Errorf("%s: timeouts %v, %v, %v; want %v, %v, %v", name, c.ReadHeaderTimeout, c.ReadTimeout, c.IdleTimeout,
				DefaultReadHeaderTimeout, DefaultReadTimeout, DefaultIdleTimeout)
		}
	}
}
