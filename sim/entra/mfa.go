package entra

import (
	"net/http"
	"strings"
	"time"
)

// MFAPolicyID is the id of the conditional-access policy whose claims
// challenge RequireMFA's refusals carry.
const MFAPolicyID = "5f0e8c1a-7d2b-4c3e-9a1f-6b8d2e4c0a17"

// mfaClaims is the claims request of a refusal by the MFA policy, as Entra
// words one: the policy's id, essential.
const mfaClaims = `{"access_token":{"capolids":{"essential":true,"values":["` + MFAPolicyID + `"]}}}`

// RequireMFA turns on (or off) a conditional-access policy for the user upn:
// while on, the on-behalf-of exchange of a token of that user who did not
// pass multi-factor authentication (UserToken's; UserTokenWithMFA's pass)
// is refused as Entra refuses it, with HTTP 400, interaction_required,
// AADSTS50076 and a claims challenge naming MFAPolicyID, which the API
// must relay to its client.
func (s *Server) RequireMFA(upn string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.state.mfaRequired[strings.ToLower(upn)] = true
	} else {
		delete(s.state.mfaRequired, strings.ToLower(upn))
	}
}

// mfaChallenge refuses an exchange the MFA policy stops.
func mfaChallenge(w http.ResponseWriter) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error": "interaction_required",
		"error_description": "AADSTS50076: Due to a configuration change made by your administrator, or because you moved " +
			"to a new location, you must use multi-factor authentication to access the resource.",
		"error_codes": []int{50076},
		"suberror":    "basic_action",
		"timestamp":   time.Now().UTC().Format(time.DateTime + "Z"),
		"claims":      mfaClaims,
	})
}
