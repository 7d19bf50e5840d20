package idpoolhttp

import "testing"

// quotable keeps out of the challenge's quoted authorization_uri what would
// end the quoted-string or the header line: the authorize URL comes from
// the token endpoint's address, which the application configured, but the
// header must not depend on that.
func TestQuotableRefusesWhatAQuotedStringMustEscape(t *testing.T) {
	for s, want := range map[string]bool{
		"": true,
		"https://login.microsoftonline.com/common/oauth2/v2.0/authorize": true,
		`https://h/"x`:                  false,
		`https://h/\x`:                  false,
		"https://h/\r\nSet-Cookie: a=b": false,
		"https://h/\x7f":                false,
		"https://h/\x00":                false,
	} {
		if got := quotable(s); got != want {
			t.Errorf("quotable(%q) = %v, want %v", s, got, want)
		}
	}
}
