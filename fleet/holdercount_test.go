package fleet

import (
	"strconv"
	"testing"
)

// FuzzParseHolderCount: a holder key's value is read back only if it is a
// count this package could have written, and then exactly that count.
func FuzzParseHolderCount(f *testing.F) {
	for _, seed := range []string{"0", "1", "10", "999999999", "1000000000", "1000000001", "",
		"-1", "-0", "+1", "01", "00", " 1", "1 ", "1e3", "0x10", "9223372036854775808", "１", "abc"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		n, err := parseHolderCount(v)
		if err != nil {
			if n != 0 {
				t.Fatalf("%q: an error with count %d", v, n)
			}
			return
		}
		if n < 0 || n > maxHolderCount {
			t.Fatalf("%q read as %d, outside 0..%d", v, n, maxHolderCount)
		}
		if strconv.Itoa(n) != string(v) {
			t.Fatalf("%q read as %d, which this package writes as %q", v, n, strconv.Itoa(n))
		}
	})
}

func TestParseHolderCountRefusesWhatItDidNotWrite(t *testing.T) {
	for _, ok := range []string{"0", "7", "1000000000"} {
		if n, err := parseHolderCount([]byte(ok)); err != nil || strconv.Itoa(n) != ok {
			t.Errorf("%q: %d, %v", ok, n, err)
		}
	}
	for _, bad := range []string{"", "-5", "+5", "05", "5 ", "five", "1000000001", "99999999999"} {
		if _, err := parseHolderCount([]byte(bad)); err == nil {
			t.Errorf("%q read as a count", bad)
		}
	}
}
