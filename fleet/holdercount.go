package fleet

import (
	"fmt"
	"strconv"
)

// maxHolderCount bounds a holder key's count: no process holds more permits
// than this, whatever the cap.
const maxHolderCount = 1_000_000_000

// parseHolderCount reads a holder key's value, the permits one process
// holds, as this package writes it (strconv.Itoa of a count): decimal digits
// only, no sign, no leading zero but for "0". The fleet's sum is checked
// against the cap, so anything else (a negative count would let the others
// pass it; a value some other program wrote) is refused, and the fetch that
// read it fails closed.
func parseHolderCount(v []byte) (int, error) {
	if len(v) == 0 || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("holder count %.20q is not a count of permits", v)
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("holder count %.20q is not a count of permits", v)
		}
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n > maxHolderCount {
		return 0, fmt.Errorf("holder count %.20q is not a count of permits", v)
	}
	return n, nil
}
