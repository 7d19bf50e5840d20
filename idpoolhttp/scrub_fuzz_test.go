package idpoolhttp

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzScrub: whatever the token and the text around it, a text that quotes
// the token (as is, %q, %+q, or JWT part by part) comes out of scrub
// without it (or is withheld whole: the fixed text that says so may
// happen to hold a token of a few letters), and a text that quotes no form of it comes out unchanged.
func FuzzScrub(f *testing.F) {
	for _, c := range [][3]string{
		{"eyJhbGciOiJIUzI1NiJ9.eyJvaWQiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl", "bad ", " token"},
		{"a", "banana", "a"}, {"[REDACTED]", "[REDACTE", "D]"}, {"x\"\x00é\u2028yyyyyyyy", "", ""},
		{"abcabcabcabc", "abcabcab", "cabcabc"},
	} {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, bearer, before, after string) {
		if bearer == "" {
			return
		}
		for _, verb := range []string{"%s", "%q", "%+q"} {
			s := scrub(before+fmt.Sprintf(verb, bearer)+after, bearer)
			if s != withheld && strings.Contains(s, bearer) {
				t.Fatalf("%s of %q left in %q", verb, bearer, s)
			}
		}
		if parts := strings.Split(bearer, "."); len(parts) == 3 {
			s := scrub(before+strings.Join(parts, " ")+after, bearer)
			for _, p := range parts {
				if len(p) >= minScrubPart && strings.Contains(s, p) {
					t.Fatalf("part %q of %q left in %q", p, bearer, s)
				}
			}
		}
		if plain := before + after; !strings.Contains(plain, bearer) && len(bearer) >= minScrubLen &&
			!strings.Contains(bearer, ".") && !strings.ContainsAny(bearer, "\"\\%+ /?#&=:@;$,") {
			for _, r := range bearer {
				if r < 0x20 || r >= 0x7f {
					return
				}
			}
			if got := scrub(plain, bearer); got != plain {
				t.Fatalf("%q changed to %q though it does not quote %q", plain, got, bearer)
			}
		}
	})
}
