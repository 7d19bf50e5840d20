package tokens_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/idpool/idpool/tokens"
)

// TestUnverifiedTimesReadsIatAndExpOrNothing: onbehalf.Cache orders a
// user's assertions by both claims, so each is read on its own (one may be
// there without the other) and only as a number in a sane range; an exp of
// 0 or less has expired, and reads as the epoch.
func TestUnverifiedTimesReadsIatAndExpOrNothing(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	jwt := func(claims string) string { return enc([]byte(`{"alg":"XX999"}`)) + "." + enc([]byte(claims)) + ".sig" }
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	for claims, want := range map[string][2]time.Time{
		`{"iat":1700000000,"exp":1700003600}`:   {at(1700000000), at(1700003600)},
		`{"iat":1700000000}`:                    {at(1700000000), {}},
		`{"exp":1700003600}`:                    {{}, at(1700003600)},
		`{"iat":"yesterday","exp":1700003600}`:  {{}, at(1700003600)},
		`{"iat":-5,"exp":1e13}`:                 {{}, {}},
		`{"iat":1700000000,"exp":0}`:            {at(1700000000), at(0)}, // expired: the epoch
		`{"exp":-1}`:                            {{}, at(0)},
		`{"iat":1700000000.5,"exp":1700003600}`: {time.Unix(1700000000, 5e8), at(1700003600)},
		`[1700000000]`:                          {{}, {}},
	} {
		tok := jwt(claims)
		iat, exp := tokens.UnverifiedTimes(tok)
		assert.True(t, iat.Equal(want[0]), "%s: iat %v, want %v", claims, iat, want[0])
		assert.True(t, exp.Equal(want[1]), "%s: exp %v, want %v", claims, exp, want[1])
	}
	for _, opaque := range []string{"", "opaque", "a.b", "a.!!!.c", "a.b.c.d.e"} {
		iat, exp := tokens.UnverifiedTimes(opaque)
		assert.True(t, iat.IsZero() && exp.IsZero(), "%q", opaque)
	}
}
