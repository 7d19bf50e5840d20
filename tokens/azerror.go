package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// credentialError is an error of an azidentity credential as idpool reports
// it. azidentity's own text is no fit for an error message: an
// AuthenticationFailedError prints the token endpoint's whole response body,
// and MSAL prints the body of a response it could not parse ("raw message
// was: ..."), which holds the access token itself when only expires_in was
// malformed, and whatever an endpoint chose to echo of the request (the user
// assertion of an on-behalf-of grant, a client secret). Error therefore
// tells what failed of an error that carries the response from its request,
// status, OAuth error code, AADSTS numbers and trace and correlation ids
// only, and of any other from its first line (a chain's: each attempt's
// first line) with quoted strings and token-like runs redacted; and the
// exact secrets the credential holds, in their escaped and encoded forms,
// are redacted from all of it, however short and unquoted; Unwrap
// still reaches azidentity's error, for errors.As and errors.Is (a ctx's
// end, AuthenticationRequiredError).
type credentialError struct {
	msg string
	err error
	// challenge is the claims challenge of the refusal, if it carried one
	// fit to relay (see FindClaimsChallenge).
	challenge *ClaimsChallenge
}

func (e *credentialError) Error() string { return e.msg }
func (e *credentialError) Unwrap() error { return e.err }

// Format prints Error for every verb: %#v would otherwise print the fields,
// and through them whatever azidentity's error holds.
func (e *credentialError) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(e.msg)) }

// redactCredentialError wraps err (from an azidentity credential) so that
// its text holds no part of a token endpoint's response body, nor any form
// of the secrets the credential was given (see secretRedactor): the patterns
// of describeText miss a short secret that is not quoted, such as one an
// endpoint echoed into the URL it redirected to, which a transport error
// prints. prefix says what was being done. The secrets are taken out of
// the whole text before it is cut to its first line and bounded, so that
// no cut leaves a secret's beginning behind, and out of the result again,
// which holds the fields describeResponse took from a body.
//
// withChallenge says whether the refusal's claims challenge, if any, is
// kept for FindClaimsChallenge: only for an on-behalf-of exchange, whose
// challenge the caller's user can satisfy, and whose secrets (the
// assertion, the app's) the redactor knows.
func redactCredentialError(prefix string, err error, secrets knownSecrets, withChallenge bool) error {
	if err == nil {
		return nil
	}
	redact := secretRedactor(secrets)
	ce := &credentialError{msg: redact(prefix + ": " + describeCredentialError(err, redact)), err: err}
	if withChallenge {
		ce.challenge = claimsChallengeOf(err, redact)
	}
	return ce
}

// maxDescription bounds the part of an error message taken from a
// credential's own error text.
const maxDescription = 1024

func describeCredentialError(err error, redact func(string) string) string {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil && !strings.Contains(afe.Error(), chainHeading) {
		return describeResponse(credentialName(afe)+" authentication failed", afe.RawResponse)
	}
	// MSAL's own (a public client's Authenticate returns them as they are).
	var call msalerrors.CallErr
	if errors.As(err, &call) && call.Resp != nil {
		return describeResponse("the identity provider refused", call.Resp)
	}
	return describeText(redact(err.Error()))
}

// chainHeading is the line after which a chain's (DefaultAzureCredential's)
// error lists the attempts, one credential's error a line, each indented
// by one tab; the further lines of one (its response body) by two.
const chainHeading = "\nAttempted credentials:"

// describeText is an error's text without what may hold a response body:
// its first line (MSAL and azidentity put bodies on the lines after it) and,
// for a chain, the first line of each attempt, with quoted strings and
// token-like words redacted and the whole bounded.
func describeText(text string) string {
	lines := strings.Split(text, "\n")
	msg, rest := lines[0], lines[1:]
	withheld := false
	if len(rest) > 0 && transportError.MatchString(rest[0]) {
		// MSAL puts the transport's error (a timeout, a refused
		// connection) on the next line: no body in it, and it says why.
		msg += " " + strings.TrimSpace(rest[0])
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == chainHeading[1:] {
		msg += " " + rest[0]
		for _, l := range rest[1:] {
			if strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\t\t") {
				msg += " [" + strings.TrimSpace(l) + "]"
			} else if strings.TrimSpace(l) != "" {
				withheld = true
			}
		}
	} else if len(rest) > 0 {
		withheld = true
	}
	msg = quoted.ReplaceAllStringFunc(strings.TrimSpace(msg), func(q string) string {
		if quotedURL.MatchString(q) {
			return q // the endpoint a transport error names
		}
		return `"[redacted]"`
	})
	msg = tokenLike.ReplaceAllString(msg, "[redacted]")
	msg = base64Like.ReplaceAllString(msg, "[redacted]")
	if len(msg) > maxDescription {
		msg, withheld = strings.ToValidUTF8(msg[:maxDescription], ""), true
	}
	if withheld {
		msg += " [the rest is withheld: it may hold a token or a secret]"
	}
	return msg
}

// quoted matches a double-quoted string as Go's %q and JSON write one,
// escapes and all, or a quote left open at the end of the text. What an
// error's first line quotes is a value it was given, and MSAL's come from
// the response: a 200 whose expires_in is not a number fails with `json
// decode error: unix time("<expires_in>") ... parsing "<expires_in>"`,
// and an endpoint that echoed what it was sent as expires_in had the
// client secret or the user's assertion printed there. tokenLike redacts
// only runs of 40 characters and more, and a JSON escape (\u0026 for &)
// cuts a run, so a shorter secret, or one with such characters, was kept.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*(?:"|\\?$)`)

// quotedURL is a quoted http(s) URL with no escapes in it: the endpoint a
// transport error names (see transportError), which says where a request
// went and holds no secret (a token endpoint is POSTed to, a managed
// identity endpoint's query names a resource and a client id).
var quotedURL = regexp.MustCompile(`^"https?://[^"\s\\]*"$`)

// tokenLike matches a run of characters of base64, base64url or a JWT long
// enough to be a token or a client secret (Entra's are 40 characters), but
// not a GUID (36) or a host name between separators.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9\-_.~+=]{40,}`)

// base64Like matches what tokenLike misses: a run of standard base64 ('+'
// and '/' as well as letters and digits, '=' padding), plain or
// URL-encoded (%2B, %2F, %3D) or JSON-escaped as encoders other than Go's
// write them ("\/", "\u002B"), long enough to be a secret. Legacy Entra
// client secrets, storage keys and SAS signatures are standard base64, and
// the '/' in them cut tokenLike's runs into pieces shorter than 40, so a
// 44-character secret quoted on an error's first line (an endpoint's body
// azidentity prints there: "The endpoint responded with ...") was printed
// whole. The run admits no '.', '-', ':' or '_', so a URL (host names, GUIDs
// and ".default" break it) stays readable.
var base64Like = regexp.MustCompile(`(?:[A-Za-z0-9+/]|%(?i:2B|2F|3D)|\\/|\\u00(?i:2B|2F|3D)){40,}`)

// transportError is the text of a request that got no response: a ctx's
// end, or a *url.Error from net/http such as `Post "https://host/path":
// dial tcp 10.0.0.1:443: connect: connection refused`.
var transportError = regexp.MustCompile(`^\s*((Get|Post) "https?://[^"\s]*": .*|context deadline exceeded|context canceled)$`)

// credentialName is the credential type that begins an
// AuthenticationFailedError's text ("OnBehalfOfCredential authentication
// failed. ..."), or "the credential".
func credentialName(afe *azidentity.AuthenticationFailedError) string {
	name, _, _ := strings.Cut(afe.Error(), " ")
	name = strings.TrimSuffix(name, ":")
	if !credentialNameRE.MatchString(name) {
		return "the credential"
	}
	return name
}

var credentialNameRE = regexp.MustCompile(`^[A-Za-z]{1,64}$`)

// describeResponse names the request, the status and, from the body, only
// the OAuth error code and Entra's AADSTS numbers, trace and correlation
// ids, each checked to be of its form: nothing an endpoint echoed.
func describeResponse(what string, resp *http.Response) string {
	var b strings.Builder
	b.WriteString(what + ": ")
	if req := resp.Request; req != nil && req.URL != nil {
		fmt.Fprintf(&b, "%s %s://%s%s answered ", req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path)
	}
	fmt.Fprintf(&b, "HTTP %d", resp.StatusCode)
	var body struct {
		Error         any    `json:"error"`
		Description   string `json:"error_description"`
		Codes         []any  `json:"error_codes"`
		TraceID       any    `json:"trace_id"`
		CorrelationID any    `json:"correlation_id"`
	}
	if resp.Body != nil {
		// As azidentity reads it: once, then kept for every later read.
		if data, err := runtime.Payload(resp); err == nil {
			_ = json.Unmarshal(data, &body)
		}
	}
	if s, ok := body.Error.(string); ok && oauthCode.MatchString(s) {
		fmt.Fprintf(&b, ", error %s", s)
	}
	codes := map[string]bool{}
	var list []string
	add := func(c string) {
		if !codes[c] && len(list) < 5 {
			codes[c] = true
			list = append(list, c)
		}
	}
	for _, c := range body.Codes {
		if n, ok := c.(float64); ok && n >= 0 && n < 1e9 && n == float64(int64(n)) {
			add(fmt.Sprintf("AADSTS%d", int64(n)))
		}
	}
	for _, c := range aadsts.FindAllString(body.Description, 5) {
		add(c)
	}
	if len(list) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(list, ", "))
	}
	if s, ok := body.TraceID.(string); ok && guid.MatchString(s) {
		fmt.Fprintf(&b, ", trace id %s", s)
	}
	if s, ok := body.CorrelationID.(string); ok && guid.MatchString(s) {
		fmt.Fprintf(&b, ", correlation id %s", s)
	}
	b.WriteString(" [the response body is withheld: it may echo a token or a secret]")
	return b.String()
}

var (
	oauthCode = regexp.MustCompile(`^[a-z_]{1,64}$`)
	aadsts    = regexp.MustCompile(`\bAADSTS[0-9]{1,9}\b`)
	guid      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)
