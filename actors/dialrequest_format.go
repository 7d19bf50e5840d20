package actors

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// String names the pool (redacted), the identity and the token by its
// fingerprint, never its value. DialRequest carries the token every Dialer
// logs in with, so it prints redacted however a Dialer logs it: fmt's
// fallback for a verb that does not suit a pointer (%s of a *DialRequest in
// a struct) prints the fields raw, without their own redacting methods.
func (r DialRequest) String() string {
	return fmt.Sprintf("DialRequest{Key: %s, Identity: %s, Token: %s}", r.Key.Redacted(), r.Identity, r.Token)
}

// GoString keeps %#v to the redacted form.
func (r DialRequest) GoString() string { return r.String() }

// Format prints the redacted form for every verb.
func (r DialRequest) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue implements slog.LogValuer with the redacted form.
func (r DialRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON writes the redacted form.
func (r DialRequest) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }
